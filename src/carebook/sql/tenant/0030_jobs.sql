-- Jobs of this clinic (issue 11). The job rows themselves live in the platform tables
-- public.job_outbox / public.scheduled_jobs (one table for every clinic, so the relay and the
-- scheduler never loop over schemas); these functions write them in the caller's transaction
-- with this clinic's schema name. job_runs records the jobs whose effect has happened, in
-- the same transaction as the effect (carebook.jobs.actor.run_once): a job delivered twice
-- has its effect once.
CREATE TABLE job_runs (
    job_id uuid PRIMARY KEY,
    actor text NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_runs_finished_at_idx ON job_runs (finished_at);

-- One job for the relay to hand to Dramatiq after commit; returns its id.
CREATE FUNCTION enqueue_job(p_actor text, p_args jsonb) RETURNS uuid
LANGUAGE sql VOLATILE AS $fn$
    INSERT INTO public.job_outbox (schema_name, actor, args)
    VALUES (current_schema(), p_actor, coalesce(p_args, '{}'::jsonb))
    RETURNING job_id
$fn$;

-- Timed work: (re)place the job under p_key, due at p_due (the scheduler enqueues it then).
CREATE FUNCTION schedule_job(p_key text, p_actor text, p_args jsonb, p_due timestamptz)
RETURNS void LANGUAGE sql VOLATILE AS $fn$
    INSERT INTO public.scheduled_jobs (schema_name, key, actor, args, due_at)
    VALUES (current_schema(), p_key, p_actor, coalesce(p_args, '{}'::jsonb), p_due)
    ON CONFLICT (schema_name, key)
    DO UPDATE SET actor = EXCLUDED.actor, args = EXCLUDED.args, due_at = EXCLUDED.due_at
$fn$;

-- Drop every pending timed job of this clinic whose key starts with p_prefix.
CREATE FUNCTION unschedule_jobs(p_prefix text) RETURNS integer
LANGUAGE sql VOLATILE AS $fn$
    WITH gone AS (
        DELETE FROM public.scheduled_jobs
        WHERE schema_name = current_schema()
          AND left(key, length(p_prefix)) = p_prefix
        RETURNING 1)
    SELECT count(*)::integer FROM gone
$fn$;

-- A clinic setting from the platform registry (public.tenants.settings), or its default.
CREATE FUNCTION clinic_setting_int(p_key text, p_default integer) RETURNS integer
LANGUAGE sql STABLE AS $fn$
    SELECT coalesce((SELECT (t.settings ->> p_key)::integer FROM public.tenants t
                     WHERE t.schema_name = current_schema()), p_default)
$fn$;
