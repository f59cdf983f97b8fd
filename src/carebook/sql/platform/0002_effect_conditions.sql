-- A lifecycle effect may name a condition (issue 18): a shared function
-- (p_appointment uuid, p_event text) RETURNS boolean, asked in the transition's transaction.
-- When it answers false the job would find nothing to do, so it is not written: a booking at
-- a clinic without video, intake forms or webhooks wrote three jobs that each ended in a
-- no-op, and each cost an outbox row, a relay send, a Redis message and a worker's
-- transaction. The actors still check for themselves; the condition only spares the trip.
ALTER TABLE public.lifecycle_effects ADD COLUMN IF NOT EXISTS only_if text
    CHECK (only_if ~ '^[a-z_][a-z0-9_]*$');
UPDATE public.lifecycle_effects SET only_if = 'video_effect_wanted' WHERE actor LIKE 'video.%';
UPDATE public.lifecycle_effects SET only_if = 'forms_effect_wanted' WHERE actor LIKE 'forms.%';
