-- Response documents of the public pages (0150_slots_document): one copy in schema public for every
-- clinic, run on the caller's search_path (docs/architecture.md, "Shared functions").

-- The days of a slots document, one row per local date p_first … p_last of p_zone: the JSON
-- object {"date", "slots", "closed"} of that date (the slots of the calendar whose start falls
-- on it), in date order. p_from/p_to are the first instants of p_first and of the day after
-- p_last (computed at the edge, calendars/slots.py); p_clinic_zone is the clinic's zone.
-- "closed" carries the reasons of the clinic closures overlapping the date, null when none
-- does. Kept per day by calendars/slots_cache.py; slots_document() joins them.
-- missing: 'calendar_not_found' | 'specialist_not_found' (then one row and nothing else),
-- else null.
CREATE OR REPLACE FUNCTION slot_day_pieces(
    p_calendar uuid,
    p_first date,
    p_last date,
    p_zone text,
    p_from timestamptz,
    p_to timestamptz,
    p_now timestamptz,
    p_specialist uuid,
    p_clinic_zone text
) RETURNS TABLE (missing text, duration_minutes integer, day date, piece text)
LANGUAGE plpgsql STABLE
-- One cached plan per connection (its shape does not depend on the values), as the engine's:
-- re-planning the document's query per call cost ~15 % of the call.
SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
    v_duration integer;
BEGIN
    SELECT c.duration_minutes INTO v_duration
    FROM calendars c WHERE c.id = p_calendar AND c.active;
    IF NOT FOUND THEN
        missing := 'calendar_not_found';
        RETURN NEXT;
        RETURN;
    END IF;
    IF p_specialist IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM specialists s WHERE s.id = p_specialist) THEN
        missing := 'specialist_not_found';
        RETURN NEXT;
        RETURN;
    END IF;
    -- Local dates and offsets are rendered in the viewer's zone (restored at function exit).
    PERFORM set_config('TimeZone', p_zone, true);
    RETURN QUERY
    WITH merged AS (  -- specialists free at the same start: one slot, ids sorted
        SELECT e.slot_start, e.slot_end, array_agg(e.specialist_id ORDER BY e.specialist_id) AS ids
        FROM available_slots(p_calendar, p_from, p_to, p_now, p_specialist) e
        GROUP BY e.slot_start, e.slot_end
    ),
    by_day AS (
        SELECT to_char(m.slot_start, 'YYYY-MM-DD') AS day,
               json_agg(json_build_object(
                   'start', to_char(m.slot_start, 'YYYY-MM-DD"T"HH24:MI:SSTZH:TZM'),
                   'end', to_char(m.slot_end, 'YYYY-MM-DD"T"HH24:MI:SSTZH:TZM'),
                   'specialist_ids', m.ids) ORDER BY m.slot_start) AS slots
        FROM merged m
        GROUP BY 1
    ),
    days AS (
        SELECT p_first + i AS d FROM generate_series(0, p_last - p_first) i
    ),
    closed AS (  -- closures are clinic-zone dates; a viewer's day may overlap one in part
        SELECT dd.d,
               coalesce(string_agg(DISTINCT nullif(btrim(c.reason), ''), '; '), '') AS reason
        FROM days dd
        JOIN closures c
          ON c.dates && daterange(p_first - 2, p_last + 3)
         AND tstzrange(lower(c.dates)::timestamp AT TIME ZONE p_clinic_zone,
                       upper(c.dates)::timestamp AT TIME ZONE p_clinic_zone)
          && tstzrange(dd.d::timestamp AT TIME ZONE p_zone,
                       (dd.d + 1)::timestamp AT TIME ZONE p_zone)
        GROUP BY dd.d
    )
    SELECT NULL::text, v_duration, dd.d,
           json_build_object('date', to_char(dd.d, 'YYYY-MM-DD'),
                             'slots', coalesce(b.slots, '[]'::json),
                             'closed', cl.reason)::text
    FROM days dd
    LEFT JOIN by_day b ON b.day = to_char(dd.d, 'YYYY-MM-DD')
    LEFT JOIN closed cl ON cl.d = dd.d
    ORDER BY dd.d;
END
$fn$;

-- The slots endpoint's response document: slot_day_pieces() joined under the calendar's
-- fields, byte for byte what calendars/slots_cache.py composes from kept pieces (compose()).
-- missing as in slot_day_pieces() (then no document).
CREATE OR REPLACE FUNCTION slots_document(
    p_calendar uuid,
    p_first date,
    p_last date,
    p_zone text,
    p_from timestamptz,
    p_to timestamptz,
    p_now timestamptz,
    p_specialist uuid,
    p_clinic_zone text
) RETURNS TABLE (missing text, document bytea)
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    RETURN QUERY
    SELECT min(x.missing),
           CASE WHEN bool_and(x.missing IS NULL) THEN convert_to(
               '{"calendar_id":' || to_json(p_calendar)::text
               || ',"timezone":' || to_json(p_zone)::text
               || ',"duration_minutes":' || min(x.duration_minutes)
               || ',"days":[' || string_agg(x.piece, ',' ORDER BY x.day) || ']}', 'UTF8') END
    FROM slot_day_pieces(p_calendar, p_first, p_last, p_zone, p_from, p_to, p_now,
                         p_specialist, p_clinic_zone) x;
END
$fn$;

-- Listed, active services with their listed, active calendars and each calendar's active
-- specialists (the public catalog); the clinic's own fields come from the caller. PL/pgSQL so
-- that the statement's plan is kept (as a SQL function it was planned on every request).
CREATE OR REPLACE FUNCTION public_catalog_document(p_slug text, p_name text, p_timezone text)
RETURNS bytea
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    RETURN convert_to(json_build_object(
        'clinic', json_build_object('slug', p_slug, 'name', p_name, 'timezone', p_timezone),
        'services', coalesce((
            SELECT json_agg(json_build_object(
                       'id', s.id, 'name', s.name, 'description', s.description,
                       'calendars', cals.list) ORDER BY s.name, s.id)
            FROM services s
            CROSS JOIN LATERAL (
                SELECT json_agg(json_build_object(
                           'id', c.id, 'slug', c.slug, 'name', c.name, 'kind', c.kind,
                           'price_minor', c.price_minor, 'currency', c.currency,
                           'duration_minutes', c.duration_minutes,
                           'specialists', coalesce((
                               SELECT json_agg(json_build_object('id', sp.id, 'name', sp.name)
                                               ORDER BY sp.name, sp.id)
                               FROM calendar_specialists cs
                               JOIN specialists sp ON sp.id = cs.specialist_id
                               WHERE cs.calendar_id = c.id AND sp.active), '[]'::json),
                           'service_id', s.id, 'service_name', s.name,
                           'horizon_days', c.horizon_days) ORDER BY c.name, c.slug) AS list
                FROM calendars c
                WHERE c.service_id = s.id AND c.active AND c.listed) cals
            WHERE s.active AND cals.list IS NOT NULL), '[]'::json))::text, 'UTF8');
END
$fn$;
-- Entry points (docs/architecture.md, "Shared functions"): the use case of one request in
-- one round trip, without a transaction block, so without a tenant search_path; the clinic's
-- schema comes first and is on the search_path until the function returns.

CREATE OR REPLACE FUNCTION slots_document_in(
    p_schema text,
    p_calendar uuid,
    p_first date,
    p_last date,
    p_zone text,
    p_from timestamptz,
    p_to timestamptz,
    p_now timestamptz,
    p_specialist uuid,
    p_clinic_zone text
) RETURNS TABLE (missing text, document bytea)
LANGUAGE plpgsql STABLE SET search_path = public AS $fn$
BEGIN
    PERFORM enter_clinic_schema(p_schema);
    RETURN QUERY SELECT * FROM public.slots_document(
        p_calendar, p_first, p_last, p_zone, p_from, p_to, p_now, p_specialist, p_clinic_zone);
END
$fn$;

-- slots_cache_state_in() and bookings' next_hold_expiry() served the previous release's kept
-- documents; they stay one release so that instances still running it keep working while
-- a rolling deploy replaces them (docs/architecture.md, "Shared functions"). Drop them in
-- the next release.
CREATE OR REPLACE FUNCTION slots_cache_state_in(p_schema text, p_calendar uuid, p_now timestamptz)
RETURNS TABLE (head bigint, next_hold_expiry timestamptz, min_notice_minutes integer,
               horizon_days integer)
LANGUAGE plpgsql STABLE SET search_path = public AS $fn$
BEGIN
    PERFORM enter_clinic_schema(p_schema);
    RETURN QUERY
    SELECT clinic_event_head(), next_hold_expiry(p_now), c.min_notice_minutes, c.horizon_days
    FROM calendars c WHERE c.id = p_calendar AND c.active;
END
$fn$;

-- What kept slots days of the calendar (calendars/slots_cache.py) depend on besides their
-- request (one row; asked by slot_pieces_in() in the snapshot of its build):
--   head       the clinic's newest event id (every change of availability publishes one in
--              its transaction);
--   changes    the events after p_since (NULL: none asked) that can touch this calendar, as
--              (id, lo, hi): slot events of its specialists (held, booked, released, changed)
--              change only the starts within [lo, hi] — from the booking's start less the
--              calendar's duration and the largest buffer (240 minutes) to its end plus that
--              buffer; any other event (schedules, overrides, closures, calendar and
--              specialist edits, the gap row of clinic_events_since()) has lo and hi NULL: it
--              may change everything. Slot events of other specialists are left out;
--   holds      the live holds of its specialists as (lo, hi, expires_at): when one lapses,
--              the starts within [lo, hi] are free again, with no event;
--   notice, horizon and duration of the calendar (rule 5 moves with the clock);
--   range_bound  some hours of its specialists end at 24:00 (weekly or on a date), so a
--              window may run on over midnights from before a range's 7-day look-back,
--              and rule 7's grid anchor then depends on the range's first day: such a day
--              is kept for requests starting on the same day only (calendars/slots_cache.py).
--              Without hours ending at 24:00 every window lies inside one local day of its
--              specialist, so it starts after the look-back's edge whatever the range.
-- No row: the calendar is missing or inactive (the pieces call says which).
CREATE OR REPLACE FUNCTION slot_pieces_state(p_calendar uuid, p_now timestamptz,
                                             p_since bigint)
RETURNS TABLE (head bigint, min_notice_minutes integer, horizon_days integer,
               duration_minutes integer,
               change_ids bigint[], change_lo timestamptz[], change_hi timestamptz[],
               hold_lo timestamptz[], hold_hi timestamptz[], hold_expires timestamptz[],
               range_bound boolean)
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    RETURN QUERY
    WITH cal AS (
        SELECT c.min_notice_minutes, c.horizon_days, c.duration_minutes,
               make_interval(mins => c.duration_minutes + 240) AS reach,
               (SELECT coalesce(array_agg(cs.specialist_id), '{}')
                FROM calendar_specialists cs WHERE cs.calendar_id = c.id) AS members
        FROM calendars c WHERE c.id = p_calendar AND c.active
    ),
    ev AS (
        SELECT e.id,
               e.type IN ('slot.held', 'slot.booked', 'slot.released', 'appointment.changed')
                   AND e.data ? 'start' AND e.data ? 'end' AND e.specialist_id IS NOT NULL
                   AS slot_event,
               e.specialist_id, e.data
        FROM clinic_events_since(p_since, 200) e
        WHERE p_since IS NOT NULL
    ),
    changes AS (
        SELECT array_agg(ev.id ORDER BY ev.id) AS ids,
               array_agg(CASE WHEN ev.slot_event
                              THEN (ev.data->>'start')::timestamptz - cal.reach END
                         ORDER BY ev.id) AS lo,
               array_agg(CASE WHEN ev.slot_event
                              THEN (ev.data->>'end')::timestamptz + interval '240 minutes' END
                         ORDER BY ev.id) AS hi
        FROM cal, ev
        WHERE NOT ev.slot_event OR ev.specialist_id = ANY (cal.members)
    ),
    holds AS (
        SELECT array_agg(lower(h.blocking) - cal.reach) AS lo,
               array_agg(upper(h.blocking)) AS hi,
               array_agg(h.expires_at) AS expires
        FROM cal, live_holds(cal.members, p_now) h
    )
    SELECT clinic_event_head(), cal.min_notice_minutes, cal.horizon_days, cal.duration_minutes,
           coalesce(changes.ids, '{}'), coalesce(changes.lo, '{}'), coalesce(changes.hi, '{}'),
           coalesce(holds.lo, '{}'), coalesce(holds.hi, '{}'), coalesce(holds.expires, '{}'),
           EXISTS (SELECT 1 FROM weekly_intervals w
                   WHERE w.specialist_id = ANY (cal.members) AND w.ends = time '24:00')
           OR EXISTS (SELECT 1 FROM date_overrides o
                      JOIN override_intervals oi ON oi.override_id = o.id
                      WHERE o.specialist_id = ANY (cal.members) AND oi.ends = time '24:00')
    FROM cal, changes, holds;
END
$fn$;

-- A request's slots days in one round trip and one snapshot (calendars/slots_cache.py): the
-- state of slot_pieces_state(), which of the kept days it makes stale, and the days to
-- build, built. The request is the calendar, the local dates p_first … (one per element of
-- p_kept_heads) of p_zone with their first instants p_day_lo (one more: the day after the
-- last), the specialist filter and the clinic's zone; p_kept_heads[i] is the version the
-- kept day i is filed at (NULL: not kept); p_range_bound says whether they were looked up
-- per first day of the request.
--   A kept day is stale when an event after its version touches [its first instant, the
--   next day's] (the state's changes; a NULL range touches every day), or when the calendar
--   is range-bound and the days were not looked up so. The days to build are the stale and
--   the not-kept ones, as one range from the first to the last (from the request's first
--   day when range-bound: rule 7's grid may depend on it).
-- Rows: the state first (day NULL; stale = the stale kept days), then one row per day built
-- (state columns NULL; missing as in slot_day_pieces()). No row: no active calendar.
CREATE OR REPLACE FUNCTION slot_pieces_in(
    p_schema text,
    p_calendar uuid,
    p_now timestamptz,
    p_first date,
    p_zone text,
    p_day_lo timestamptz[],
    p_specialist uuid,
    p_clinic_zone text,
    p_kept_heads bigint[],
    p_range_bound boolean
) RETURNS TABLE (head bigint, min_notice_minutes integer, horizon_days integer,
                 duration_minutes integer, hold_lo timestamptz[], hold_hi timestamptz[],
                 hold_expires timestamptz[], range_bound boolean, stale date[],
                 missing text, day date, piece text)
LANGUAGE plpgsql STABLE SET search_path = public AS $fn$
DECLARE
    st record;
    v_build integer[];
    v_from integer;
    v_to integer;
BEGIN
    PERFORM enter_clinic_schema(p_schema);
    SELECT * INTO st
    FROM public.slot_pieces_state(p_calendar, p_now,
                                  (SELECT min(h) FROM unnest(p_kept_heads) h));
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT array_agg(k.i ORDER BY k.i) INTO v_build
    FROM generate_subscripts(p_kept_heads, 1) k(i)
    WHERE p_kept_heads[k.i] IS NULL
       OR (st.range_bound AND NOT p_range_bound)
       OR (p_kept_heads[k.i] < st.head AND EXISTS (
              SELECT 1 FROM unnest(st.change_ids, st.change_lo, st.change_hi) c(id, lo, hi)
              WHERE c.id > p_kept_heads[k.i]
                AND (c.lo IS NULL OR c.hi IS NULL
                     OR (c.lo < p_day_lo[k.i + 1] AND c.hi >= p_day_lo[k.i]))));
    RETURN QUERY SELECT st.head, st.min_notice_minutes, st.horizon_days, st.duration_minutes,
        st.hold_lo, st.hold_hi, st.hold_expires, st.range_bound,
        coalesce((SELECT array_agg(p_first + i - 1) FROM unnest(v_build) i
                  WHERE p_kept_heads[i] IS NOT NULL), '{}'),
        NULL::text, NULL::date, NULL::text;
    IF v_build IS NULL THEN
        RETURN;
    END IF;
    v_from := CASE WHEN st.range_bound THEN 1 ELSE v_build[1] END;
    v_to := v_build[cardinality(v_build)];
    RETURN QUERY SELECT NULL::bigint, NULL::integer, NULL::integer, x.duration_minutes,
        NULL::timestamptz[], NULL::timestamptz[], NULL::timestamptz[], NULL::boolean,
        NULL::date[], x.missing, x.day, x.piece
    FROM public.slot_day_pieces(p_calendar, p_first + v_from - 1, p_first + v_to - 1, p_zone,
                                p_day_lo[v_from], p_day_lo[v_to + 1], p_now, p_specialist,
                                p_clinic_zone) x;
END
$fn$;

CREATE OR REPLACE FUNCTION public_catalog_document_in(
    p_schema text,
    p_slug text,
    p_name text,
    p_timezone text
) RETURNS bytea
LANGUAGE plpgsql STABLE SET search_path = public AS $fn$
BEGIN
    PERFORM enter_clinic_schema(p_schema);
    RETURN public.public_catalog_document(p_slug, p_name, p_timezone);
END
$fn$;
