-- Statistics per clinic, specialist and calendar (appointments spec §7).
--
-- stats_daily: one row per (clinic-local day of the start, calendar, specialist), kept equal
-- to a recount of the raw tables by triggers that run in the writer's transaction: every
-- booking, transition and reschedule (appointments rows) and every review. A row's
-- contribution is subtracted with its old values and added with its new ones, so the rollup
-- is a function of the current rows, whatever the path (tests/stats: a property test).
--
-- stats_offered: offered minutes per (day, calendar, specialist), computed by the
-- availability engine itself (available_slots(..., p_ignore_blocking => true)), never a
-- second copy of its rules; filled lazily per calendar and day range (stats_offered_coverage)
-- and forgotten from yesterday on when availability changes (the availability.changed event).

CREATE TABLE stats_daily (
    day date NOT NULL,
    calendar_id uuid NOT NULL,
    specialist_id uuid NOT NULL,
    booked integer NOT NULL DEFAULT 0,
    completed integer NOT NULL DEFAULT 0,
    cancelled integer NOT NULL DEFAULT 0,
    no_show integer NOT NULL DEFAULT 0,
    booked_minutes bigint NOT NULL DEFAULT 0,
    rating_sum integer NOT NULL DEFAULT 0,
    rating_count integer NOT NULL DEFAULT 0,
    PRIMARY KEY (day, calendar_id, specialist_id)
);
CREATE INDEX stats_daily_specialist_idx ON stats_daily (specialist_id, day);
CREATE INDEX stats_daily_calendar_idx ON stats_daily (calendar_id, day);

-- Month totals of stats_daily, kept by a trigger on it (the same deltas): a year is 12 rows
-- per (calendar, specialist) instead of 365. Queries read whole months here, the days of
-- partial months from stats_daily.
CREATE TABLE stats_monthly (
    month date NOT NULL CHECK (extract(day FROM month) = 1),
    calendar_id uuid NOT NULL,
    specialist_id uuid NOT NULL,
    booked integer NOT NULL DEFAULT 0,
    completed integer NOT NULL DEFAULT 0,
    cancelled integer NOT NULL DEFAULT 0,
    no_show integer NOT NULL DEFAULT 0,
    booked_minutes bigint NOT NULL DEFAULT 0,
    rating_sum integer NOT NULL DEFAULT 0,
    rating_count integer NOT NULL DEFAULT 0,
    PRIMARY KEY (month, calendar_id, specialist_id)
);
CREATE INDEX stats_monthly_specialist_idx ON stats_monthly (specialist_id, month);
CREATE INDEX stats_monthly_calendar_idx ON stats_monthly (calendar_id, month);

CREATE FUNCTION stats_monthly_apply(r stats_daily, p_sign integer) RETURNS void
LANGUAGE sql VOLATILE AS $fn$
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
        rating_count = m.rating_count + EXCLUDED.rating_count
$fn$;

CREATE FUNCTION stats_daily_to_monthly() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM stats_monthly_apply(OLD, -1);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM stats_monthly_apply(NEW, 1);
    END IF;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER stats_daily_monthly AFTER INSERT OR UPDATE OR DELETE ON stats_daily
    FOR EACH ROW EXECUTE FUNCTION stats_daily_to_monthly();

CREATE FUNCTION stats_clinic_zone() RETURNS text
LANGUAGE sql STABLE AS $fn$
    SELECT coalesce((SELECT t.timezone FROM public.tenants t
                     WHERE t.schema_name = current_schema()), 'UTC')
$fn$;

-- Counted: every appointment that was booked (holds never are). Booked time: what still
-- occupies the specialist (not cancelled; a no-show's time was booked all the same).
CREATE FUNCTION stats_add(p_start timestamptz, p_end timestamptz, p_calendar uuid,
                          p_specialist uuid, p_status text, p_sign integer) RETURNS void
LANGUAGE sql VOLATILE AS $fn$
    INSERT INTO stats_daily AS s (day, calendar_id, specialist_id, booked, completed, cancelled,
                                  no_show, booked_minutes)
    SELECT (p_start AT TIME ZONE stats_clinic_zone())::date, p_calendar, p_specialist, p_sign,
           CASE WHEN p_status = 'done' THEN p_sign ELSE 0 END,
           CASE WHEN p_status = 'cancelled' THEN p_sign ELSE 0 END,
           CASE WHEN p_status = 'no_show' THEN p_sign ELSE 0 END,
           CASE WHEN p_status = 'cancelled' THEN 0
                ELSE p_sign * round(extract(epoch FROM p_end - p_start) / 60)::bigint END
    WHERE p_status IN ('booked', 'upcoming', 'confirmed', 'in_progress', 'done', 'cancelled',
                       'no_show')
    ON CONFLICT (day, calendar_id, specialist_id) DO UPDATE
    SET booked = s.booked + EXCLUDED.booked,
        completed = s.completed + EXCLUDED.completed,
        cancelled = s.cancelled + EXCLUDED.cancelled,
        no_show = s.no_show + EXCLUDED.no_show,
        booked_minutes = s.booked_minutes + EXCLUDED.booked_minutes
$fn$;

CREATE FUNCTION stats_on_appointment() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        PERFORM stats_add(OLD.starts_at, OLD.ends_at, OLD.calendar_id, OLD.specialist_id,
                          OLD.status, -1);
    END IF;
    PERFORM stats_add(NEW.starts_at, NEW.ends_at, NEW.calendar_id, NEW.specialist_id,
                      NEW.status, 1);
    RETURN NULL;
END
$fn$;
CREATE TRIGGER appointments_stats_insert AFTER INSERT ON appointments
    FOR EACH ROW WHEN (NEW.status NOT IN ('held', 'released', 'expired'))
    EXECUTE FUNCTION stats_on_appointment();
CREATE TRIGGER appointments_stats_update
    AFTER UPDATE OF status, starts_at, ends_at, calendar_id, specialist_id ON appointments
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                       OR OLD.starts_at IS DISTINCT FROM NEW.starts_at
                       OR OLD.ends_at IS DISTINCT FROM NEW.ends_at
                       OR OLD.calendar_id IS DISTINCT FROM NEW.calendar_id
                       OR OLD.specialist_id IS DISTINCT FROM NEW.specialist_id)
    EXECUTE FUNCTION stats_on_appointment();

-- Ratings count on the day of the appointment they rate (reviews are final, and so is a
-- done appointment).
CREATE FUNCTION stats_on_review() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
BEGIN
    INSERT INTO stats_daily AS s (day, calendar_id, specialist_id, rating_sum, rating_count)
    SELECT (a.starts_at AT TIME ZONE stats_clinic_zone())::date, a.calendar_id,
           a.specialist_id, NEW.rating, 1
    FROM appointments a WHERE a.id = NEW.appointment_id
    ON CONFLICT (day, calendar_id, specialist_id) DO UPDATE
    SET rating_sum = s.rating_sum + EXCLUDED.rating_sum,
        rating_count = s.rating_count + EXCLUDED.rating_count;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER reviews_stats AFTER INSERT ON reviews
    FOR EACH ROW EXECUTE FUNCTION stats_on_review();

-- Recount everything from the raw tables in one pass (used once here for existing data; also
-- what a clinic's change of time zone would need). The monthly rollup follows by trigger.
CREATE FUNCTION stats_rebuild() RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT AS $fn$
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
-- Only a clinic that has appointments has anything to count (a new clinic has none, and
-- stats_rebuild()'s TRUNCATE reads all of pg_constraint: costly with thousands of schemas).
SELECT stats_rebuild() WHERE EXISTS (SELECT FROM appointments);

-- Offered time.
CREATE TABLE stats_offered (
    day date NOT NULL,
    calendar_id uuid NOT NULL,
    specialist_id uuid NOT NULL,
    minutes integer NOT NULL CHECK (minutes >= 0),
    PRIMARY KEY (calendar_id, day, specialist_id)
);
CREATE INDEX stats_offered_specialist_idx ON stats_offered (specialist_id, day);
CREATE INDEX stats_offered_day_idx ON stats_offered (day);

CREATE TABLE stats_offered_monthly (
    month date NOT NULL CHECK (extract(day FROM month) = 1),
    calendar_id uuid NOT NULL,
    specialist_id uuid NOT NULL,
    minutes bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (month, calendar_id, specialist_id)
);
CREATE INDEX stats_offered_monthly_specialist_idx ON stats_offered_monthly (specialist_id, month);
CREATE INDEX stats_offered_monthly_calendar_idx ON stats_offered_monthly (calendar_id, month);

CREATE FUNCTION stats_offered_monthly_apply(r stats_offered, p_sign integer) RETURNS void
LANGUAGE sql VOLATILE AS $fn$
    INSERT INTO stats_offered_monthly AS m (month, calendar_id, specialist_id, minutes)
    VALUES (date_trunc('month', r.day)::date, r.calendar_id, r.specialist_id, p_sign * r.minutes)
    ON CONFLICT (month, calendar_id, specialist_id) DO UPDATE
    SET minutes = m.minutes + EXCLUDED.minutes
$fn$;

CREATE FUNCTION stats_offered_to_monthly() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM stats_offered_monthly_apply(OLD, -1);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM stats_offered_monthly_apply(NEW, 1);
    END IF;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER stats_offered_monthly AFTER INSERT OR UPDATE OR DELETE ON stats_offered
    FOR EACH ROW EXECUTE FUNCTION stats_offered_to_monthly();

CREATE TABLE stats_offered_coverage (
    calendar_id uuid PRIMARY KEY,
    days datemultirange NOT NULL DEFAULT '{}'
);

-- Offered minutes of p_calendars on the local days [p_from, p_to] that are not computed yet.
-- Per calendar, the engine runs over chunks short enough that its notice and horizon rules
-- (relative to a "now" put at the chunk's start minus the notice) never clip a day: the
-- slots it returns are exactly those the calendar offered, or offers, on those days.
CREATE FUNCTION stats_fill_offered(p_calendars uuid[], p_from date, p_to date) RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT AS $fn$
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
CREATE FUNCTION stats_forget_offered() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
DECLARE
    v_since date := (now() AT TIME ZONE stats_clinic_zone())::date - 1;
    v_cals uuid[];
BEGIN
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
CREATE TRIGGER events_stats_forget_offered AFTER INSERT ON events
    FOR EACH ROW WHEN (NEW.type = 'availability.changed')
    EXECUTE FUNCTION stats_forget_offered();
