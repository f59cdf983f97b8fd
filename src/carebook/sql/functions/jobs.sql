-- Jobs of a clinic (0030_jobs, 0140): one copy in schema public for every clinic, run on the
-- caller's search_path (docs/architecture.md, "Shared functions").

-- One job for the relay to hand to Dramatiq after commit; returns its id.
-- (PL/pgSQL, as every shared function that reads or writes a table: a SQL function whose
-- body PostgreSQL cannot inline is parsed and planned again in every transaction that calls
-- it; tests/bookings/test_hot_path_plans.py.)
CREATE OR REPLACE FUNCTION enqueue_job(p_actor text, p_args jsonb) RETURNS uuid
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    v_id uuid;
BEGIN
    INSERT INTO public.job_outbox (schema_name, actor, args)
    VALUES (current_schema(), p_actor, coalesce(p_args, '{}'::jsonb))
    RETURNING job_id INTO v_id;
    RETURN v_id;
END
$fn$;

-- schedule_job() of 0030_jobs as PL/pgSQL (issue 18): same statement, same contract.
--
-- A SQL function whose body is an INSERT is never inlined: PostgreSQL parsed and planned it
-- again on every call (book_hold() calls it for every booking, through schedule_upcoming()).
-- PL/pgSQL keeps the statement's plan for the session.
CREATE OR REPLACE FUNCTION schedule_job(p_key text, p_actor text, p_args jsonb,
                                        p_due timestamptz)
RETURNS void LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
    INSERT INTO public.scheduled_jobs (schema_name, key, actor, args, due_at)
    VALUES (current_schema(), p_key, p_actor, coalesce(p_args, '{}'::jsonb), p_due)
    ON CONFLICT (schema_name, key)
    DO UPDATE SET actor = EXCLUDED.actor, args = EXCLUDED.args, due_at = EXCLUDED.due_at;
END
$fn$;

-- Drop every pending timed job of this clinic whose key starts with p_prefix.
CREATE OR REPLACE FUNCTION unschedule_jobs(p_prefix text) RETURNS integer
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    v_gone integer;
BEGIN
    DELETE FROM public.scheduled_jobs
    WHERE schema_name = current_schema()::text COLLATE "default"
      AND left(key, length(p_prefix)) = p_prefix;
    GET DIAGNOSTICS v_gone = ROW_COUNT;
    RETURN v_gone;
END
$fn$;

-- A clinic setting from the platform registry (public.tenants.settings), or its default.
-- PL/pgSQL so that the lookup's plan is kept for the session (as a SQL function with a
-- sub-select it is not inlined and was planned again in every transaction: 0.09 ms a booking).
CREATE OR REPLACE FUNCTION clinic_setting_int(p_key text, p_default integer) RETURNS integer
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    RETURN coalesce((SELECT (t.settings ->> p_key)::integer FROM public.tenants t
                     WHERE t.schema_name = current_schema()::text COLLATE "default"),
                    p_default);
END
$fn$;
