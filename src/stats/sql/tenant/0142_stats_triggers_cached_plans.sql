-- The statistics triggers of 0090/0129 with cached plans (issue 18): same rollup, same
-- bodies (stats_add() still goes through 0129's stats_daily_add()).
--
-- stats_daily_add(), stats_add() and stats_monthly_apply() were SQL functions whose body is
-- an INSERT … ON CONFLICT (or calls one), which PostgreSQL never inlines: each call parsed and
-- planned the statement again (three times per booking: the old status's contribution, the
-- new one's, the month's).
-- As PL/pgSQL the plans are kept for the session. stats_on_appointment() also skips the
-- subtraction when the old status is one that never counted (a hold becoming a booking:
-- stats_add() would have added nothing).
CREATE OR REPLACE FUNCTION stats_daily_add(
    p_day date, p_calendar uuid, p_specialist uuid,
    p_booked integer, p_completed integer, p_cancelled integer, p_no_show integer,
    p_booked_minutes bigint, p_rating_sum integer, p_rating_count integer
) RETURNS void
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
    INSERT INTO stats_daily AS s (day, calendar_id, specialist_id, booked, completed, cancelled,
                                  no_show, booked_minutes, rating_sum, rating_count)
    VALUES (p_day, p_calendar, p_specialist, p_booked, p_completed, p_cancelled, p_no_show,
            p_booked_minutes, p_rating_sum, p_rating_count)
    ON CONFLICT (day, calendar_id, specialist_id) DO UPDATE
    SET booked = s.booked + EXCLUDED.booked,
        completed = s.completed + EXCLUDED.completed,
        cancelled = s.cancelled + EXCLUDED.cancelled,
        no_show = s.no_show + EXCLUDED.no_show,
        booked_minutes = s.booked_minutes + EXCLUDED.booked_minutes,
        rating_sum = s.rating_sum + EXCLUDED.rating_sum,
        rating_count = s.rating_count + EXCLUDED.rating_count;
END
$fn$;

CREATE OR REPLACE FUNCTION stats_add(p_start timestamptz, p_end timestamptz, p_calendar uuid,
                                     p_specialist uuid, p_status text, p_sign integer)
RETURNS void LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
    IF p_status IN ('booked', 'upcoming', 'confirmed', 'in_progress', 'done', 'cancelled',
                    'no_show') THEN
        PERFORM stats_daily_add(
            (p_start AT TIME ZONE stats_clinic_zone())::date, p_calendar, p_specialist, p_sign,
            CASE WHEN p_status = 'done' THEN p_sign ELSE 0 END,
            CASE WHEN p_status = 'cancelled' THEN p_sign ELSE 0 END,
            CASE WHEN p_status = 'no_show' THEN p_sign ELSE 0 END,
            CASE WHEN p_status = 'cancelled' THEN 0
                 ELSE p_sign * round(extract(epoch FROM p_end - p_start) / 60)::bigint END,
            0, 0);
    END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION stats_monthly_apply(r stats_daily, p_sign integer) RETURNS void
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
    INSERT INTO stats_monthly AS m (month, calendar_id, specialist_id, booked, completed,
                                    cancelled, no_show, booked_minutes, rating_sum, rating_count)
    VALUES (date_trunc('month', r.day)::date, r.calendar_id, r.specialist_id,
            p_sign * r.booked, p_sign * r.completed, p_sign * r.cancelled, p_sign * r.no_show,
            p_sign * r.booked_minutes, p_sign * r.rating_sum, p_sign * r.rating_count)
    ON CONFLICT (month, calendar_id, specialist_id) DO UPDATE
    SET booked = m.booked + EXCLUDED.booked,
        completed = m.completed + EXCLUDED.completed,
        cancelled = m.cancelled + EXCLUDED.cancelled,
        no_show = m.no_show + EXCLUDED.no_show,
        booked_minutes = m.booked_minutes + EXCLUDED.booked_minutes,
        rating_sum = m.rating_sum + EXCLUDED.rating_sum,
        rating_count = m.rating_count + EXCLUDED.rating_count;
END
$fn$;

CREATE OR REPLACE FUNCTION stats_on_appointment() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
BEGIN
    -- Only these statuses count (stats_add's own WHERE): a hold had nothing to undo.
    IF TG_OP = 'UPDATE' AND OLD.status IN ('booked', 'upcoming', 'confirmed', 'in_progress',
                                          'done', 'cancelled', 'no_show') THEN
        PERFORM stats_add(OLD.starts_at, OLD.ends_at, OLD.calendar_id, OLD.specialist_id,
                          OLD.status, -1);
    END IF;
    PERFORM stats_add(NEW.starts_at, NEW.ends_at, NEW.calendar_id, NEW.specialist_id,
                      NEW.status, 1);
    RETURN NULL;
END
$fn$;
