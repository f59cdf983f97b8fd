-- Statistics rollups (0090_statistics, 0129, 0142): one copy in schema public for every clinic
-- (docs/architecture.md, "Shared functions"). The triggers run on the search_path of whatever
-- statement fired them, so each puts its table's clinic first (TG_TABLE_SCHEMA) under a
-- constant SET clause that restores the caller's path on return; the plans PL/pgSQL keeps are
-- planned again only when the clinic differs from the previous call's (plancache compares
-- the search_path).

-- PL/pgSQL, not SQL: a scalar SQL function whose body has a sub-select is never inlined, and
-- its body was parsed and planned again in every transaction that called it (0.1 ms of each
-- booking's statistics trigger); PL/pgSQL keeps the plan for the session.
CREATE OR REPLACE FUNCTION stats_clinic_zone() RETURNS text
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    RETURN coalesce((SELECT t.timezone FROM public.tenants t
                     WHERE t.schema_name = current_schema()::text COLLATE "default"), 'UTC');
END
$fn$;

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

-- One month delta of stats_monthly (the row-typed stats_monthly_apply(stats_daily, sign) of
-- 0090/0142 in scalars: a shared function cannot name a clinic's row type).
CREATE OR REPLACE FUNCTION stats_monthly_add(
    p_day date, p_calendar uuid, p_specialist uuid,
    p_booked integer, p_completed integer, p_cancelled integer, p_no_show integer,
    p_booked_minutes bigint, p_rating_sum integer, p_rating_count integer
) RETURNS void
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
    INSERT INTO stats_monthly AS m (month, calendar_id, specialist_id, booked, completed,
                                    cancelled, no_show, booked_minutes, rating_sum, rating_count)
    VALUES (date_trunc('month', p_day)::date, p_calendar, p_specialist, p_booked, p_completed,
            p_cancelled, p_no_show, p_booked_minutes, p_rating_sum, p_rating_count)
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

CREATE OR REPLACE FUNCTION stats_daily_to_monthly() RETURNS trigger
LANGUAGE plpgsql SET search_path = public AS $fn$
BEGIN
    PERFORM enter_clinic_schema(TG_TABLE_SCHEMA);
    -- A day's counters moved (every booking and transition: the upsert's UPDATE): the month
    -- takes the difference in one upsert instead of subtracting OLD and adding NEW.
    IF TG_OP = 'UPDATE' AND date_trunc('month', OLD.day) = date_trunc('month', NEW.day)
       AND OLD.calendar_id = NEW.calendar_id AND OLD.specialist_id = NEW.specialist_id THEN
        PERFORM stats_monthly_add(
            NEW.day, NEW.calendar_id, NEW.specialist_id, NEW.booked - OLD.booked,
            NEW.completed - OLD.completed, NEW.cancelled - OLD.cancelled,
            NEW.no_show - OLD.no_show, NEW.booked_minutes - OLD.booked_minutes,
            NEW.rating_sum - OLD.rating_sum, NEW.rating_count - OLD.rating_count);
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        PERFORM stats_monthly_add(
            OLD.day, OLD.calendar_id, OLD.specialist_id, -OLD.booked, -OLD.completed,
            -OLD.cancelled, -OLD.no_show, -OLD.booked_minutes, -OLD.rating_sum,
            -OLD.rating_count);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM stats_monthly_add(
            NEW.day, NEW.calendar_id, NEW.specialist_id, NEW.booked, NEW.completed,
            NEW.cancelled, NEW.no_show, NEW.booked_minutes, NEW.rating_sum,
            NEW.rating_count);
    END IF;
    RETURN NULL;
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

CREATE OR REPLACE FUNCTION stats_on_appointment() RETURNS trigger
LANGUAGE plpgsql SET search_path = public AS $fn$
BEGIN
    PERFORM enter_clinic_schema(TG_TABLE_SCHEMA);
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

-- A rating counts on the day of the appointment it rates.
CREATE OR REPLACE FUNCTION stats_on_review() RETURNS trigger
LANGUAGE plpgsql SET search_path = public AS $fn$
BEGIN
    PERFORM enter_clinic_schema(TG_TABLE_SCHEMA);
    PERFORM stats_daily_add((a.starts_at AT TIME ZONE stats_clinic_zone())::date,
                            a.calendar_id, a.specialist_id, 0, 0, 0, 0, 0, NEW.rating, 1)
    FROM appointments a WHERE a.id = NEW.appointment_id;
    RETURN NULL;
END
$fn$;

-- Recount everything from the raw tables in one pass (used once here for existing data; also
-- what a clinic's change of time zone would need). The monthly rollup follows by trigger.
CREATE OR REPLACE FUNCTION stats_rebuild() RETURNS void
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
    TRUNCATE stats_daily, stats_monthly;
    INSERT INTO stats_daily (day, calendar_id, specialist_id, booked, completed, cancelled,
                             no_show, booked_minutes, rating_sum, rating_count)
    SELECT (a.starts_at AT TIME ZONE stats_clinic_zone())::date, a.calendar_id,
           a.specialist_id, count(*), count(*) FILTER (WHERE a.status = 'done'),
           count(*) FILTER (WHERE a.status = 'cancelled'),
           count(*) FILTER (WHERE a.status = 'no_show'),
           coalesce(sum(round(extract(epoch FROM a.ends_at - a.starts_at) / 60)::bigint)
                    FILTER (WHERE a.status <> 'cancelled'), 0),
           coalesce(sum(r.rating), 0), count(r.id)
    FROM appointments a
    LEFT JOIN reviews r ON r.appointment_id = a.id
    WHERE a.status IN ('booked', 'upcoming', 'confirmed', 'in_progress', 'done', 'cancelled',
                       'no_show')
    GROUP BY 1, 2, 3;
END
$fn$;

-- One month delta of stats_offered_monthly (0090's row-typed stats_offered_monthly_apply).
CREATE OR REPLACE FUNCTION stats_offered_monthly_add(p_day date, p_calendar uuid,
                                                     p_specialist uuid, p_minutes bigint)
RETURNS void LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
    INSERT INTO stats_offered_monthly AS m (month, calendar_id, specialist_id, minutes)
    VALUES (date_trunc('month', p_day)::date, p_calendar, p_specialist, p_minutes)
    ON CONFLICT (month, calendar_id, specialist_id) DO UPDATE
    SET minutes = m.minutes + EXCLUDED.minutes;
END
$fn$;

CREATE OR REPLACE FUNCTION stats_offered_to_monthly() RETURNS trigger
LANGUAGE plpgsql SET search_path = public AS $fn$
BEGIN
    PERFORM enter_clinic_schema(TG_TABLE_SCHEMA);
    IF TG_OP <> 'INSERT' THEN
        PERFORM stats_offered_monthly_add(OLD.day, OLD.calendar_id, OLD.specialist_id,
                                          -OLD.minutes);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM stats_offered_monthly_add(NEW.day, NEW.calendar_id, NEW.specialist_id,
                                          NEW.minutes);
    END IF;
    RETURN NULL;
END
$fn$;

-- Offered minutes of p_calendars on the local days [p_from, p_to] that are not computed yet.
-- Per calendar, the engine runs over chunks short enough that its notice and horizon rules
-- (relative to a "now" put at the chunk's start minus the notice) never clip a day: the
-- slots it returns are exactly those the calendar offered, or offers, on those days.
CREATE OR REPLACE FUNCTION stats_fill_offered(p_calendars uuid[], p_from date, p_to date) RETURNS integer
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    c record;
    piece daterange;
    v_zone text := stats_clinic_zone();
    v_chunk integer;
    v_lo date;
    v_hi date;
    v_from timestamptz;
    v_to timestamptz;
    v_filled integer := 0;
BEGIN
    FOR c IN
        SELECT cal.id, cal.min_notice_minutes AS notice, cal.horizon_days AS horizon,
               datemultirange(daterange(p_from, p_to + 1))
                   - coalesce(cov.days, '{}'::datemultirange) AS missing
        FROM calendars cal
        LEFT JOIN stats_offered_coverage cov ON cov.calendar_id = cal.id
        WHERE cal.id = ANY (p_calendars)
        ORDER BY cal.id
    LOOP
        CONTINUE WHEN isempty(c.missing);
        -- Days per engine call: the horizon minus the notice, minus 1 h for a 25 h day.
        v_chunk := greatest(1, (c.horizon * 1440 - c.notice - 60) / 1440);
        FOR piece IN SELECT unnest(c.missing) LOOP
            v_lo := lower(piece);
            WHILE v_lo < upper(piece) LOOP
                v_hi := least(upper(piece), v_lo + v_chunk);
                v_from := v_lo::timestamp AT TIME ZONE v_zone;
                v_to := v_hi::timestamp AT TIME ZONE v_zone;
                INSERT INTO stats_offered (day, calendar_id, specialist_id, minutes)
                SELECT s.day, c.id, s.specialist_id,
                       (SELECT round(sum(extract(epoch FROM upper(x) - lower(x))) / 60)
                        FROM unnest(s.m) x)::integer
                FROM (SELECT (sl.slot_start AT TIME ZONE v_zone)::date AS day, sl.specialist_id,
                             range_agg(tstzrange(sl.slot_start, sl.slot_end)) AS m
                      FROM available_slots(c.id, v_from, v_to,
                                           v_from - make_interval(mins => c.notice),
                                           NULL, true) sl
                      GROUP BY 1, 2) s
                ON CONFLICT (calendar_id, day, specialist_id)
                DO UPDATE SET minutes = EXCLUDED.minutes;
                v_filled := v_filled + (v_hi - v_lo);
                v_lo := v_hi;
            END LOOP;
        END LOOP;
        INSERT INTO stats_offered_coverage AS cov (calendar_id, days)
        VALUES (c.id, datemultirange(daterange(p_from, p_to + 1)))
        ON CONFLICT (calendar_id)
        DO UPDATE SET days = cov.days + datemultirange(daterange(p_from, p_to + 1));
    END LOOP;
    RETURN v_filled;
END
$fn$;

-- Availability changed: offered time from yesterday on is computed again when next asked.
-- Past days keep what was offered then (a schedule edit today does not rewrite history).
CREATE OR REPLACE FUNCTION stats_forget_offered() RETURNS trigger
LANGUAGE plpgsql SET search_path = public AS $fn$
DECLARE
    v_since date;
    v_cals uuid[];
BEGIN
    PERFORM enter_clinic_schema(TG_TABLE_SCHEMA);
    v_since := (now() AT TIME ZONE stats_clinic_zone())::date - 1;
    IF NEW.data ? 'calendar_id' THEN
        v_cals := ARRAY[(NEW.data ->> 'calendar_id')::uuid];
    ELSIF NEW.data ? 'specialist_id' THEN
        SELECT coalesce(array_agg(cs.calendar_id), '{}') INTO v_cals FROM calendar_specialists cs
        WHERE cs.specialist_id = (NEW.data ->> 'specialist_id')::uuid;
    END IF;
    UPDATE stats_offered_coverage cov
    SET days = cov.days - datemultirange(daterange(v_since, NULL))
    WHERE v_cals IS NULL OR cov.calendar_id = ANY (v_cals);
    DELETE FROM stats_offered o
    WHERE o.day >= v_since AND (v_cals IS NULL OR o.calendar_id = ANY (v_cals));
    RETURN NULL;
END
$fn$;
