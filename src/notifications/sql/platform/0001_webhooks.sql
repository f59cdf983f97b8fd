-- Webhooks to the clinic's own systems: one job per lifecycle event (notifications.webhooks),
-- which delivers to the endpoints subscribed to that event.
INSERT INTO public.lifecycle_effects (event, actor) VALUES
    ('booked', 'notifications.webhooks'),
    ('upcoming', 'notifications.webhooks'),
    ('confirmed', 'notifications.webhooks'),
    ('in_progress', 'notifications.webhooks'),
    ('done', 'notifications.webhooks'),
    ('cancelled', 'notifications.webhooks'),
    ('no_show', 'notifications.webhooks'),
    ('rescheduled', 'notifications.webhooks')
ON CONFLICT DO NOTHING;
