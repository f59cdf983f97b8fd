-- The webhooks actor is written only for a clinic with an active endpoint
-- (webhooks_effect_wanted(), notifications/sql/functions/webhooks.sql; carebook 0002).
UPDATE public.lifecycle_effects SET only_if = 'webhooks_effect_wanted'
WHERE actor = 'notifications.webhooks';
