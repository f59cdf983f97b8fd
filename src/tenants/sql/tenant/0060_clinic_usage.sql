-- Usage of one clinic for platform admins (issue 16): read-only, pinned to its schema.
-- Appointments "this month" start in [p_from, p_to) and were booked (holds that never became
-- appointments - held, released, expired - do not count; cancelled and no-show do).
-- Last activity: the latest appointment change, staff sign-in or staff API token use.
CREATE FUNCTION clinic_usage(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (appointments_this_month bigint, active_staff bigint, last_activity timestamptz)
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $fn$
    SELECT
        (SELECT count(*) FROM appointments
          WHERE starts_at >= p_from AND starts_at < p_to
            AND status NOT IN ('held', 'released', 'expired')),
        (SELECT count(*) FROM staff_users WHERE active),
        (SELECT max(t) FROM (
            SELECT max(updated_at) FROM appointments
            UNION ALL SELECT max(created_at) FROM staff_sessions
            UNION ALL SELECT max(last_used_at) FROM staff_api_tokens) AS a(t))
$fn$;
