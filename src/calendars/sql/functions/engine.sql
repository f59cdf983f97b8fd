-- The availability engine (0015, 0040, 0050): one copy in schema public for every clinic, run on
-- the caller's search_path (docs/architecture.md, "Shared functions").

-- PostgreSQL's reading `later` uses the offset in force after a repeat's transition. The
-- offset 24 hours earlier is the one before it; when that offset reads p_local as an earlier
-- instant that really shows p_local on the wall clock, p_local is ambiguous and that earlier
-- instant is its first occurrence. (In a gap the earlier offset gives a later instant, and
-- PostgreSQL's reading already is the one wanted.) One SELECT expression, no FROM: the
-- planner inlines it into the caller's query (no function call per row).
CREATE OR REPLACE FUNCTION local_instant(p_local timestamp, p_zone text)
RETURNS timestamptz LANGUAGE sql STABLE PARALLEL SAFE AS $fn$
    SELECT CASE WHEN (((p_local AT TIME ZONE p_zone) - interval '24 hours') AT TIME ZONE p_zone)
                     + interval '24 hours' > p_local
                 AND ((p_local AT TIME ZONE p_zone)
                      - ((((p_local AT TIME ZONE p_zone) - interval '24 hours')
                          AT TIME ZONE p_zone) + interval '24 hours' - p_local))
                     AT TIME ZONE p_zone = p_local
                THEN (p_local AT TIME ZONE p_zone)
                     - ((((p_local AT TIME ZONE p_zone) - interval '24 hours')
                         AT TIME ZONE p_zone) + interval '24 hours' - p_local)
                ELSE p_local AT TIME ZONE p_zone
           END
$fn$;

-- The availability engine with a point mode (issue 18): one definition, two ways to ask.
--
-- engine_slots() is the engine of 0015_availability_engine (with 0040's local_instant())
-- and two parameters more, so that both questions use the same rules:
--   p_blocking       'apply': rule 6 removes blocked starts (the bookable slots);
--                    'ignore': rule 6 is skipped; 'flag': blocked starts are kept, with
--                    blocked = true (is it a slot at all, and is it free — in one pass);
--   p_lookback_days  how many local days before p_from's are read to find grid anchors.
--                    7 is the documented rule (docs/availability.md). A window that reaches
--                    back to the edge of what was read may start earlier: for each such
--                    specialist one marker row (slot_start NULL) comes first.
--
--   available_slots(range)  = engine_slots(…, 'apply' | 'ignore', 7) without markers:
--                             unchanged, for the slots endpoint and every range query.
--   slot_at(instant)        = the slot rows at exactly that instant, from a look-back of
--                             0 days (the instant's own local day and the next: two days of
--                             hours, the blocking ranges near the instant) — and only when a
--                             marker says a window runs into that day from before its
--                             midnight, once more with the full 7 days. So slot_at(t) is
--                             always available_slots(t, t + 1 µs) with 'flag': the same answer,
--                             reading a fraction of the rows (night shifts and round-the-clock
--                             schedules take the long way).
--
-- Why a look-back of 0 gives the same answer when there is no marker: hours are read from
-- the specialist's local midnight of p_from's date (the edge) on, and every day before ends
-- at or before that edge, so the hours after the edge are the same whatever the look-back.
-- A window holding a slot and starting after the edge therefore starts at the same instant
-- with 7 days read — same anchor, same grid. (Clinic days are read 2 days further back;
-- special hours and closures before the edge cannot change a window after it.)
CREATE OR REPLACE FUNCTION engine_slots(
    p_calendar uuid,
    p_from timestamptz,
    p_to timestamptz,
    p_now timestamptz,
    p_specialist uuid,
    p_blocking text,         -- 'apply' | 'ignore' | 'flag' (rule 6)
    p_lookback_days integer  -- local days read before p_from's (7 = the documented rule)
) RETURNS TABLE (slot_start timestamptz, slot_end timestamptz, specialist_id uuid,
                 blocked boolean)
LANGUAGE plpgsql STABLE
-- The plan is cached per connection and reused: its shape does not depend on the values.
SET plan_cache_mode = force_generic_plan
AS $fn$
BEGIN
    RETURN QUERY
    WITH cal AS (
        SELECT c.id,
               make_interval(mins => c.duration_minutes) AS dur,
               coalesce(c.slot_interval_minutes, c.duration_minutes) * 60 AS step_s,
               make_interval(mins => coalesce(c.slot_interval_minutes, c.duration_minutes))
                   AS step,
               tstzmultirange(tstzrange(c.active_from, c.active_until)) AS active_w,
               -- rule 5 and the requested range: which starts may be returned (no grid effect)
               greatest(p_from, p_now + make_interval(mins => c.min_notice_minutes)) AS t_lo,
               least(p_to, p_now + make_interval(hours => 24 * c.horizon_days)) AS t_hi,
               coalesce((SELECT t.timezone FROM public.tenants t
                         WHERE t.schema_name = current_schema()::text COLLATE "default"), 'UTC')
                   AS ctz
        FROM calendars c
        WHERE c.id = p_calendar AND c.active AND p_from < p_to
    ),
    -- Clinic-zone local dates, wide enough for every specialist's zone (offsets < 27 h).
    clinic_days AS (  -- integer steps: date arithmetic independent of the session TimeZone
        SELECT cd.d0 + i AS d, cal.ctz
        FROM cal
        CROSS JOIN LATERAL (SELECT (p_from AT TIME ZONE cal.ctz)::date - p_lookback_days - 2
                                       AS d0,
                                   (p_to AT TIME ZONE cal.ctz)::date + 2 AS d1) cd
        CROSS JOIN LATERAL generate_series(0, cd.d1 - cd.d0) i
    ),
    special AS (  -- rule 3; no special hours = no restriction
        SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM calendar_special_hours h, cal
                                     WHERE h.calendar_id = cal.id)
                    THEN '{(,)}'::tstzmultirange
                    ELSE coalesce((
                        SELECT range_agg(tstzrange(x.lo, x.hi))
                        FROM (SELECT local_instant(cd.d + h.starts, cd.ctz) AS lo,
                                     local_instant(cd.d + h.ends, cd.ctz) AS hi
                              FROM cal
                              JOIN calendar_special_hours h ON h.calendar_id = cal.id
                              JOIN clinic_days cd ON extract(isodow FROM cd.d) = h.isodow) x
                        WHERE x.lo < x.hi), '{}'::tstzmultirange)
               END AS m
    ),
    closed AS (  -- rule 4: closure dates of the clinic zone, as instants
        SELECT coalesce(range_agg(tstzrange(local_instant(lower(x.days)::timestamp, cal.ctz),
                                            local_instant(upper(x.days)::timestamp, cal.ctz))),
                        '{}'::tstzmultirange) AS m
        FROM cal
        CROSS JOIN LATERAL (SELECT daterange(min(cd.d), max(cd.d) + 1) AS r
                            FROM clinic_days cd) span
        CROSS JOIN LATERAL (SELECT cl.dates * span.r AS days
                            FROM closures cl WHERE cl.dates && span.r) x
    ),
    sp AS MATERIALIZED (  -- rule 1
        SELECT s.id, s.timezone AS tz, make_interval(mins => s.buffer_minutes) AS buf,
               (p_from AT TIME ZONE s.timezone)::date - p_lookback_days AS d0,
               (p_to AT TIME ZONE s.timezone)::date + 1 AS d1,
               -- the look-back's edge: no hours are read before this instant
               local_instant(((p_from AT TIME ZONE s.timezone)::date - p_lookback_days)
                             ::timestamp, s.timezone) AS edge
        FROM cal
        JOIN calendar_specialists cs ON cs.calendar_id = cal.id
        JOIN specialists s ON s.id = cs.specialist_id
        WHERE s.active AND (p_specialist IS NULL OR s.id = p_specialist)
    ),
    sp_days AS (  -- each local date of each specialist, with its override (if any)
        SELECT sp.id, sp.tz, dd.d, extract(isodow FROM dd.d)::smallint AS dow,
               (SELECT o.id FROM date_overrides o
                WHERE o.specialist_id = sp.id AND o.dates @> dd.d) AS override_id
        FROM sp
        CROSS JOIN LATERAL generate_series(0, sp.d1 - sp.d0) i
        CROSS JOIN LATERAL (SELECT sp.d0 + i AS d) dd
    ),
    local_hours AS (  -- rule 2, local wall-clock: the override of the day, else the week
        SELECT dd.id, dd.tz, dd.d, oi.starts, oi.ends
        FROM sp_days dd
        JOIN override_intervals oi ON oi.override_id = dd.override_id
        UNION ALL
        SELECT dd.id, dd.tz, dd.d, w.starts, w.ends
        FROM (SELECT w.* FROM sp JOIN weekly_intervals w ON w.specialist_id = sp.id) w
        JOIN sp_days dd ON dd.id = w.specialist_id AND dd.dow = w.isodow
        WHERE dd.override_id IS NULL
    ),
    hours AS (
        SELECT x.id, range_agg(tstzrange(x.lo, x.hi)) AS m
        FROM (SELECT lh.id, local_instant(lh.d + lh.starts, lh.tz) AS lo,
                     local_instant(lh.d + lh.ends, lh.tz) AS hi
              FROM local_hours lh) x
        WHERE x.lo < x.hi
        GROUP BY x.id
    ),
    -- Rule 6 as forbidden starts: [t, t+d+buffer) meets a blocking range b exactly when
    -- t lies in the open range (lower(b) - d - buffer, upper(b)). Appointments are read
    -- only through the bookings domain's blocking_ranges().
    forbidden AS (
        SELECT b.specialist_id AS id,
               range_agg(tstzrange(lower(b.blocking) - cal.dur - sp.buf, upper(b.blocking),
                                   '()')) AS m
        FROM cal
        -- A sub-select argument keeps blocking_ranges() a separate, simple plan (one
        -- bitmap scan of the GiST index for all ids); inlined, the planner loops per id.
        CROSS JOIN LATERAL blocking_ranges(
                 (SELECT array_agg(sp.id) FROM sp),
                 tstzrange(p_from - cal.dur - interval '240 minutes',
                           p_to + cal.dur + interval '240 minutes'),
                 p_now) b
        JOIN sp ON sp.id = b.specialist_id
        WHERE p_blocking <> 'ignore'
        GROUP BY b.specialist_id
    ),
    spans AS MATERIALIZED (  -- per specialist: where slots may lie (hs), grid windows (2-4)
        SELECT sp.id, hs.m AS hs, (hs.m * cal.active_w) - closed.m AS windows
        FROM cal, sp
        JOIN hours h ON h.id = sp.id
        CROSS JOIN special
        CROSS JOIN closed
        CROSS JOIN LATERAL (SELECT h.m * special.m AS m) hs
    ),
    starts AS MATERIALIZED (  -- the allowed starts of every rule but the grid, as multiranges
        SELECT sn.id, sn.windows,
               (fits.m * sn.windows * tstzmultirange(tstzrange(cal.t_lo, cal.t_hi)))
                   - CASE WHEN p_blocking = 'apply' THEN coalesce(f.m, '{}'::tstzmultirange)
                          ELSE '{}'::tstzmultirange END AS ok,
               CASE WHEN p_blocking = 'flag' THEN f.m END AS forbidden
        FROM cal, spans sn
        -- [t, t+d) inside hs  <=>  t in [lower(r), upper(r) - d] for a range r of hs
        CROSS JOIN LATERAL (
            SELECT coalesce(range_agg(tstzrange(lower(r), upper(r) - cal.dur, '[]')),
                            '{}'::tstzmultirange) AS m
            FROM unnest(sn.hs) r WHERE upper(r) - cal.dur >= lower(r)) fits
        LEFT JOIN forbidden f ON f.id = sn.id
        WHERE cal.t_lo < cal.t_hi
    ),
    marks AS (  -- window starts and allowed pieces of each specialist, in time order
        SELECT st.id, lower(w) AS ts, lower(w) AS anchor, NULL::tstzrange AS piece,
               NULL::tstzmultirange AS forbidden
        FROM starts st, unnest(st.windows) w
        UNION ALL
        SELECT st.id, lower(p), NULL, p, st.forbidden
        FROM starts st, unnest(st.ok) p
    ),
    anchored AS (  -- rule 7: a piece's grid anchor is the start of the window holding it
        SELECT m.id, m.piece, m.forbidden,
               max(m.anchor) OVER (PARTITION BY m.id ORDER BY m.ts, m.anchor IS NULL) AS a
        FROM marks m
    ),
    steps AS (  -- grid indexes of a piece's ends (float8: intervals here are < 9 days)
        SELECT an.id, an.a, an.forbidden,
               date_part('epoch', lower(an.piece) - an.a) / cal.step_s AS k_lo,
               date_part('epoch', upper(an.piece) - an.a) / cal.step_s AS k_hi,
               lower_inc(an.piece) AS lo_inc, upper_inc(an.piece) AS hi_inc
        FROM cal, anchored an
        WHERE an.piece IS NOT NULL
    )
    SELECT NULL::timestamptz, NULL::timestamptz, st.id, NULL::boolean
    FROM cal, starts st JOIN sp ON sp.id = st.id
    -- A window that reaches back to the look-back's edge may really start earlier (its grid
    -- anchor unknown): this marker row says so (callers with a short look-back retry at 7).
    WHERE EXISTS (SELECT 1 FROM unnest(st.windows) w
                  WHERE lower(w) <= sp.edge AND w && tstzrange(cal.t_lo, cal.t_hi))
    UNION ALL
    SELECT st.a + cal.step * k, st.a + cal.step * k + cal.dur, st.id,
           coalesce(st.forbidden @> (st.a + cal.step * k), false)
    FROM cal, steps st
    CROSS JOIN LATERAL generate_series(
        CASE WHEN st.lo_inc THEN ceil(st.k_lo) ELSE floor(st.k_lo) + 1 END::bigint,
        CASE WHEN st.hi_inc THEN floor(st.k_hi) ELSE ceil(st.k_hi) - 1 END::bigint) k
    ORDER BY 1 NULLS FIRST, 3;
END
$fn$;

-- Bookable slots of a range (docs/availability.md): the engine with the full look-back.
-- A single-SELECT SQL function: the planner inlines it (a scan of engine_slots()).
CREATE OR REPLACE FUNCTION available_slots(
    p_calendar uuid,
    p_from timestamptz,
    p_to timestamptz,
    p_now timestamptz,
    p_specialist uuid DEFAULT NULL,
    p_ignore_blocking boolean DEFAULT false
) RETURNS TABLE (slot_start timestamptz, slot_end timestamptz, specialist_id uuid)
LANGUAGE sql STABLE AS $fn$
    SELECT e.slot_start, e.slot_end, e.specialist_id
    FROM engine_slots(p_calendar, p_from, p_to, p_now, p_specialist,
                      CASE WHEN p_ignore_blocking THEN 'ignore' ELSE 'apply' END, 7) e
    WHERE e.slot_start IS NOT NULL
$fn$;

-- Point mode: is p_start a slot of the calendar, and who is free then? One row per
-- specialist for whom p_start is a slot by rules 1-5 and 7 (ordered by specialist id), with
-- free = rule 6 holds too (no blocking range in the way). No rows: not a slot at all.
CREATE OR REPLACE FUNCTION slot_at(
    p_calendar uuid,
    p_start timestamptz,
    p_now timestamptz,
    p_specialist uuid DEFAULT NULL
) RETURNS TABLE (specialist_id uuid, slot_end timestamptz, free boolean)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM engine_slots(p_calendar, p_start,
                                        p_start + interval '1 microsecond', p_now,
                                        p_specialist, 'flag', 0) LOOP
        IF r.slot_start IS NULL THEN  -- markers come first: read the full look-back
            RETURN QUERY
            SELECT e.specialist_id, e.slot_end, NOT e.blocked
            FROM engine_slots(p_calendar, p_start, p_start + interval '1 microsecond',
                              p_now, p_specialist, 'flag', 7) e
            WHERE e.slot_start IS NOT NULL;
            RETURN;
        END IF;
        specialist_id := r.specialist_id;
        slot_end := r.slot_end;
        free := NOT r.blocked;
        RETURN NEXT;
    END LOOP;
END
$fn$;
