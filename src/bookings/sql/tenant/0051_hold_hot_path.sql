-- The hold's hot path (issue 18): fewer statements and one engine call in point mode.
--
-- place_hold() keeps its contract (0022_place_hold, 0041's local day) and every guarantee
-- of issues 5 and 6; what changed:
--   * the engine is asked once, in point mode: slot_at() (calendars, 0050) says which
--     specialists have p_start as a slot and which of them are free, reading only the rows
--     that can matter for one instant. The 'invalid_slot' / 'slot_unavailable' answer comes
--     from the same call (was: a second, whole engine run with rule 6 off);
--   * the calendar and specialist checks are one statement (were three);
--   * stale holds are expired when one is in the way (the insert meets the exclusion
--     constraint): then this specialist's stale overlapping holds go to 'expired' (published
--     as 'released', as before) and the insert is tried once more. Was: an UPDATE before
--     every hold. The sweeper still expires every stale hold within seconds;
--   * "fewest appointments that local day" is counted only when there is a choice
--     (no specialist given);
--   * the insert names the exclusion constraint as its ON CONFLICT arbiter: losing a race
--     inserts nothing instead of raising 23P01 inside a subtransaction (was BEGIN/EXCEPTION,
--     a subtransaction per attempt).
-- The expiry hint (public.hold_expiries) stays: the sweeper reads only that table.
CREATE OR REPLACE FUNCTION place_hold(
    p_calendar uuid,
    p_start timestamptz,
    p_specialist uuid,
    p_session_key text,
    p_token_hash bytea,
    p_hold_minutes integer,
    p_clinic_zone text
) RETURNS TABLE (kind text, id uuid, calendar_id uuid, specialist_id uuid,
                 starts_at timestamptz, ends_at timestamptz, expires_at timestamptz,
                 buffer_minutes integer)
LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
DECLARE
    v_check record;
    v_day_lo timestamptz;
    v_day_hi timestamptz;
    v_cand record;
    v_blocking tstzrange;
    v_id uuid;
    v_expires timestamptz;
    v_slot boolean := false;
BEGIN
    SELECT EXISTS (SELECT 1 FROM calendars c WHERE c.id = p_calendar AND c.active) AS cal,
           EXISTS (SELECT 1 FROM specialists s WHERE s.id = p_specialist) AS spec,
           EXISTS (SELECT 1 FROM calendar_specialists cs
                   JOIN specialists s ON s.id = cs.specialist_id
                   WHERE cs.calendar_id = p_calendar AND s.id = p_specialist
                     AND s.active) AS assigned
    INTO v_check;
    IF NOT v_check.cal OR (p_specialist IS NOT NULL AND NOT (v_check.spec AND v_check.assigned))
    THEN
        RETURN QUERY SELECT CASE WHEN NOT v_check.cal THEN 'calendar_not_found'
                                 WHEN NOT v_check.spec THEN 'specialist_not_found'
                                 ELSE 'not_assigned' END,
            NULL::uuid, NULL::uuid, NULL::uuid,
            NULL::timestamptz, NULL::timestamptz, NULL::timestamptz, NULL::integer;
        RETURN;
    END IF;

    IF p_session_key IS NOT NULL THEN
        RETURN QUERY
        UPDATE appointments a SET status = 'released', updated_at = now()
        WHERE a.session_key = p_session_key AND a.status = 'held'
        RETURNING 'released', a.id, a.calendar_id, a.specialist_id, a.starts_at, a.ends_at,
                  NULL::timestamptz, NULL::integer;
    END IF;

    IF p_specialist IS NULL THEN  -- the clinic's local day, for "fewest appointments"
        SELECT local_instant(d::timestamp, p_clinic_zone),
               local_instant((d + 1)::timestamp, p_clinic_zone)
        INTO v_day_lo, v_day_hi
        FROM (SELECT (p_start AT TIME ZONE p_clinic_zone)::date AS d) AS local_day;
    END IF;

    FOR v_cand IN
        SELECT f.specialist_id AS sid, f.slot_end, f.free, s.buffer_minutes AS buf
        FROM slot_at(p_calendar, p_start, now(), p_specialist) AS f
        JOIN specialists s ON s.id = f.specialist_id
        ORDER BY f.free DESC,
                 CASE WHEN p_specialist IS NULL THEN (
                     SELECT count(*) FROM appointments a
                     WHERE a.specialist_id = f.specialist_id
                       AND a.starts_at >= v_day_lo AND a.starts_at < v_day_hi
                       AND a.status IN ('held', 'booked', 'upcoming', 'confirmed',
                                        'in_progress', 'done')
                       AND (a.status <> 'held' OR a.hold_expires_at > now())) END,
                 s.name, s.id
    LOOP
        v_slot := true;  -- p_start is a slot (rules 1-5, 7); free = rule 6 holds too
        EXIT WHEN NOT v_cand.free;
        -- Queue behind whoever is entering this specialist's constraint right now, so
        -- the loser sees a committed row and fails at once (no exclusion-check deadlock).
        PERFORM pg_advisory_xact_lock(
            hashtextextended(current_schema() || '/' || v_cand.sid::text, 0));
        v_blocking := tstzrange(p_start, v_cand.slot_end + make_interval(mins => v_cand.buf));
        v_id := NULL;
        FOR v_try IN 1..2 LOOP
            -- The exclusion constraint as the arbiter of ON CONFLICT: a conflict inserts
            -- nothing (no error, so no subtransaction is needed to move on).
            INSERT INTO appointments (calendar_id, specialist_id, status, starts_at,
                                      ends_at, blocking, hold_expires_at,
                                      hold_token_hash, session_key)
            VALUES (p_calendar, v_cand.sid, 'held', p_start, v_cand.slot_end, v_blocking,
                    now() + make_interval(mins => p_hold_minutes), p_token_hash,
                    p_session_key)
            ON CONFLICT ON CONSTRAINT appointments_no_overlap DO NOTHING
            RETURNING appointments.id, appointments.hold_expires_at INTO v_id, v_expires;
            -- Nothing inserted: someone holds or booked it, or a stale hold is in the way.
            EXIT WHEN v_id IS NOT NULL OR v_try = 2;
            -- Stale holds still sit in the exclusion constraint (a constraint cannot see
            -- now()): move this specialist's overlapping ones out, then try once more.
            RETURN QUERY
            UPDATE appointments a SET status = 'expired', updated_at = now()
            WHERE a.specialist_id = v_cand.sid AND a.status = 'held'
              AND a.hold_expires_at <= now() AND a.blocking && v_blocking
            RETURNING 'released', a.id, a.calendar_id, a.specialist_id, a.starts_at,
                      a.ends_at, NULL::timestamptz, NULL::integer;
            EXIT WHEN NOT FOUND;  -- no stale hold: the slot is really taken
        END LOOP;
        CONTINUE WHEN v_id IS NULL;  -- someone was first with this specialist: the next one
        INSERT INTO public.hold_expiries (schema_name, appointment_id, expires_at)
        VALUES (current_schema(), v_id, v_expires);
        RETURN QUERY SELECT 'held', v_id, p_calendar, v_cand.sid, p_start, v_cand.slot_end,
                            v_expires, v_cand.buf;
        RETURN;
    END LOOP;

    RETURN QUERY SELECT CASE WHEN v_slot THEN 'slot_unavailable' ELSE 'invalid_slot' END,
        NULL::uuid, NULL::uuid, NULL::uuid,
        NULL::timestamptz, NULL::timestamptz, NULL::timestamptz, NULL::integer;
END
$fn$;

-- hold_slot() of 0024_one_call_per_request, publishing its events with publish_event()
-- directly: PL/pgSQL keeps the plan of these statements, where publish_slot_event() (a SQL
-- function, which book_hold() still calls) is planned again on every call. The payload is
-- publish_slot_event()'s, key for key (tests/bookings/test_holds.py compares the two).
CREATE OR REPLACE FUNCTION hold_slot(
    p_calendar uuid,
    p_start timestamptz,
    p_specialist uuid,
    p_session_key text,
    p_token_hash bytea,
    p_hold_minutes integer,
    p_clinic_zone text
) RETURNS TABLE (id uuid, specialist_id uuid, ends_at timestamptz, expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT AS $fn$
DECLARE
    r record;
    v_held record;
BEGIN
    -- place_hold() has finished (its rows are materialised) before the loop body runs, so
    -- the events below are still the transaction's last writes.
    FOR r IN SELECT * FROM place_hold(p_calendar, p_start, p_specialist, p_session_key,
                                      p_token_hash, p_hold_minutes, p_clinic_zone) LOOP
        IF r.kind = 'released' THEN
            PERFORM publish_event('slot.released', r.specialist_id, jsonb_build_object(
                'specialist_id', r.specialist_id, 'calendar_id', r.calendar_id,
                'start', event_instant(r.starts_at), 'end', event_instant(r.ends_at),
                'buffer_minutes', 0));
        ELSIF r.kind = 'held' THEN
            v_held := r;
        ELSE
            RAISE EXCEPTION USING MESSAGE = r.kind, DETAIL = 'carebook outcome';
        END IF;
    END LOOP;
    PERFORM publish_event('slot.held', v_held.specialist_id, jsonb_build_object(
        'specialist_id', v_held.specialist_id, 'calendar_id', p_calendar,
        'start', event_instant(p_start), 'end', event_instant(v_held.ends_at),
        'buffer_minutes', v_held.buffer_minutes));
    RETURN QUERY SELECT v_held.id, v_held.specialist_id, v_held.ends_at, v_held.expires_at;
END
$fn$;
