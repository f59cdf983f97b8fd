-- One upsert of a delta into stats_daily, used by both writers of the rollup (appointments'
-- and reviews' triggers), which until now each spelled out their own INSERT … ON CONFLICT.
-- Same arithmetic: every column adds its delta (zero where a writer has none).
CREATE FUNCTION stats_daily_add(
    p_day date, p_calendar uuid, p_specialist uuid,
    p_booked integer, p_completed integer, p_cancelled integer, p_no_show integer,
    p_booked_minutes bigint, p_rating_sum integer, p_rating_count integer
) RETURNS void
LANGUAGE sql VOLATILE AS $fn$
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
        rating_count = s.rating_count + EXCLUDED.rating_count
$fn$;

-- An appointment row's contribution (p_sign 1: add, -1: take back); see 0090 for what counts.
CREATE OR REPLACE FUNCTION stats_add(p_start timestamptz, p_end timestamptz, p_calendar uuid,
                                     p_specialist uuid, p_status text, p_sign integer)
RETURNS void
LANGUAGE sql VOLATILE AS $fn$
    SELECT stats_daily_add(
        (p_start AT TIME ZONE stats_clinic_zone())::date, p_calendar, p_specialist, p_sign,
        CASE WHEN p_status = 'done' THEN p_sign ELSE 0 END,
        CASE WHEN p_status = 'cancelled' THEN p_sign ELSE 0 END,
        CASE WHEN p_status = 'no_show' THEN p_sign ELSE 0 END,
        CASE WHEN p_status = 'cancelled' THEN 0
             ELSE p_sign * round(extract(epoch FROM p_end - p_start) / 60)::bigint END,
        0, 0)
    WHERE p_status IN ('booked', 'upcoming', 'confirmed', 'in_progress', 'done', 'cancelled',
                       'no_show')
$fn$;

-- A rating counts on the day of the appointment it rates.
CREATE OR REPLACE FUNCTION stats_on_review() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
BEGIN
    PERFORM stats_daily_add((a.starts_at AT TIME ZONE stats_clinic_zone())::date,
                            a.calendar_id, a.specialist_id, 0, 0, 0, 0, 0, NEW.rating, 1)
    FROM appointments a WHERE a.id = NEW.appointment_id;
    RETURN NULL;
END
$fn$;
