-- The job outbox of every clinic (issue 11): one platform table, so the relay's cost does not
-- grow with the number of clinics. A clinic's transaction writes its jobs here (through the
-- clinic-schema function enqueue_job()), the relay hands them to Dramatiq after commit and
-- deletes them in the same transaction as it claims them (FOR UPDATE SKIP LOCKED).
-- Jobs carry ids only, never patient data.
CREATE TABLE IF NOT EXISTS public.job_outbox (
    id bigserial PRIMARY KEY,
    job_id uuid NOT NULL DEFAULT gen_random_uuid(),
    schema_name varchar(63) NOT NULL,
    actor text NOT NULL,
    args jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- NOTIFY is delivered at commit; it only wakes relays, which then read the table.
CREATE OR REPLACE FUNCTION public.notify_job_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('carebook_jobs', '');
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS job_outbox_notify ON public.job_outbox;
CREATE TRIGGER job_outbox_notify AFTER INSERT ON public.job_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION public.notify_job_outbox();

-- Which actors a lifecycle event causes: data, so a domain adds a row, not plumbing.
CREATE TABLE IF NOT EXISTS public.lifecycle_effects (
    event text NOT NULL,
    actor text NOT NULL,
    PRIMARY KEY (event, actor)
);
INSERT INTO public.lifecycle_effects (event, actor) VALUES
    ('booked', 'bookings.record_patient'),
    ('booked', 'forms.generate_intake'),
    ('booked', 'video.create_room'),
    ('booked', 'notifications.booked'),
    ('upcoming', 'notifications.upcoming'),
    ('confirmed', 'notifications.confirmed'),
    ('in_progress', 'video.activate_room'),
    ('done', 'forms.generate_post_appointment'),
    ('done', 'reviews.invite'),
    ('cancelled', 'video.delete_room'),
    ('cancelled', 'notifications.cancelled'),
    ('no_show', 'video.delete_room'),
    ('rescheduled', 'video.move_room'),
    ('rescheduled', 'notifications.rescheduled')
ON CONFLICT DO NOTHING;

-- Timed work (the booked -> upcoming move, reminders): the leader-elected scheduler moves due
-- rows into the outbox. One row per (clinic, key); rescheduling replaces it.
CREATE TABLE IF NOT EXISTS public.scheduled_jobs (
    id bigserial PRIMARY KEY,
    schema_name varchar(63) NOT NULL,
    key text NOT NULL,
    actor text NOT NULL,
    args jsonb NOT NULL DEFAULT '{}'::jsonb,
    due_at timestamptz NOT NULL,
    UNIQUE (schema_name, key)
);
CREATE INDEX IF NOT EXISTS scheduled_jobs_due_idx ON public.scheduled_jobs (due_at);

-- Jobs whose retries are spent, for platform admins to read and retry.
CREATE TABLE IF NOT EXISTS public.dead_letters (
    id bigserial PRIMARY KEY,
    job_id uuid NOT NULL,
    schema_name varchar(63) NOT NULL,
    actor text NOT NULL,
    args jsonb NOT NULL DEFAULT '{}'::jsonb,
    error text NOT NULL,
    attempts integer NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now(),
    retried_at timestamptz
);
CREATE INDEX IF NOT EXISTS dead_letters_open_idx ON public.dead_letters (failed_at)
    WHERE retried_at IS NULL;
