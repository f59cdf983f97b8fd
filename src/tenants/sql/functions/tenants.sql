-- Clinic-schema functions of the tenants domain: one copy in schema public for every clinic
-- (docs/architecture.md, "Shared functions").

-- Usage of the clinic p_schema for platform admins (issue 16): read-only. Called from the
-- platform's transactions (search_path public), several clinics in one statement: each call
-- puts its clinic first on the search_path until it returns (the SET clause restores it).
-- Appointments "this month" start in [p_from, p_to) and were booked (holds that never became
-- appointments - held, released, expired - do not count; cancelled and no-show do).
-- Last activity: the latest appointment change, staff sign-in or staff API token use.
CREATE OR REPLACE FUNCTION clinic_usage(p_schema text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (appointments_this_month bigint, active_staff bigint, last_activity timestamptz)
LANGUAGE plpgsql STABLE SET search_path = public AS $fn$
BEGIN
    PERFORM enter_clinic_schema(p_schema);
    RETURN QUERY SELECT
        (SELECT count(*) FROM appointments
          WHERE starts_at >= p_from AND starts_at < p_to
            AND status NOT IN ('held', 'released', 'expired')),
        (SELECT count(*) FROM staff_users WHERE active),
        (SELECT max(t) FROM (
            SELECT max(updated_at) FROM appointments
            UNION ALL SELECT max(created_at) FROM staff_sessions
            UNION ALL SELECT max(last_used_at) FROM staff_api_tokens) AS a(t));
END
$fn$;

CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END $$;
