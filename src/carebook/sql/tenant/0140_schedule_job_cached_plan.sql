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
