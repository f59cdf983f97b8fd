-- place_hold() of 0022_place_hold with the clinic's local day (the "fewest appointments that
-- day" order) bounded by local_instant() (0040_fall_back_first_occurrence): a midnight that
-- happens twice (America/Havana on fall-back day) starts the day at its first occurrence.
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
    v_duration integer;
    v_specialists uuid[];
    v_day_lo timestamptz;
    v_day_hi timestamptz;
    v_cand record;
    v_id uuid;
    v_expires timestamptz;
    v_found boolean := false;
BEGIN
    SELECT c.duration_minutes INTO v_duration
    FROM calendars c WHERE c.id = p_calendar AND c.active;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'calendar_not_found', NULL::uuid, NULL::uuid, NULL::uuid,
            NULL::timestamptz, NULL::timestamptz, NULL::timestamptz, NULL::integer;
        RETURN;
    END IF;
    IF p_specialist IS NOT NULL THEN
        IF NOT EXISTS (SELECT 1 FROM specialists s WHERE s.id = p_specialist) THEN
            RETURN QUERY SELECT 'specialist_not_found', NULL::uuid, NULL::uuid, NULL::uuid,
                NULL::timestamptz, NULL::timestamptz, NULL::timestamptz, NULL::integer;
            RETURN;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM calendar_specialists cs JOIN specialists s
                       ON s.id = cs.specialist_id
                       WHERE cs.calendar_id = p_calendar AND s.id = p_specialist
                         AND s.active) THEN
            RETURN QUERY SELECT 'not_assigned', NULL::uuid, NULL::uuid, NULL::uuid,
                NULL::timestamptz, NULL::timestamptz, NULL::timestamptz, NULL::integer;
            RETURN;
        END IF;
        v_specialists := ARRAY[p_specialist];
    ELSE
        SELECT array_agg(cs.specialist_id) INTO v_specialists
        FROM calendar_specialists cs WHERE cs.calendar_id = p_calendar;
    END IF;

    -- Stale holds still sit in the exclusion constraint: move them out first. 240 minutes
    -- is the largest buffer a specialist can have, so this covers every possible overlap.
    RETURN QUERY
    UPDATE appointments a SET status = 'expired', updated_at = now()
    WHERE a.status = 'held' AND a.hold_expires_at <= now()
      AND a.specialist_id = ANY (v_specialists)
      AND a.blocking && tstzrange(p_start, p_start + make_interval(mins => v_duration + 240))
    RETURNING 'released', a.id, a.calendar_id, a.specialist_id, a.starts_at, a.ends_at,
              NULL::timestamptz, NULL::integer;

    IF p_session_key IS NOT NULL THEN
        RETURN QUERY
        UPDATE appointments a SET status = 'released', updated_at = now()
        WHERE a.session_key = p_session_key AND a.status = 'held'
        RETURNING 'released', a.id, a.calendar_id, a.specialist_id, a.starts_at, a.ends_at,
                  NULL::timestamptz, NULL::integer;
    END IF;

    SELECT local_instant(d::timestamp, p_clinic_zone),
           local_instant((d + 1)::timestamp, p_clinic_zone)
    INTO v_day_lo, v_day_hi
    FROM (SELECT (p_start AT TIME ZONE p_clinic_zone)::date AS d) AS local_day;

    FOR v_cand IN
        SELECT f.specialist_id AS sid, f.slot_end, s.buffer_minutes AS buf
        FROM (SELECT DISTINCT slot.specialist_id, slot.slot_end
              FROM available_slots(p_calendar, p_start, p_start + interval '1 microsecond',
                                   now(), p_specialist, false) AS slot
              WHERE slot.slot_start = p_start) AS f
        JOIN specialists s ON s.id = f.specialist_id
        ORDER BY (SELECT count(*) FROM appointments a
                  WHERE a.specialist_id = f.specialist_id
                    AND a.starts_at >= v_day_lo AND a.starts_at < v_day_hi
                    AND a.status IN ('held', 'booked', 'upcoming', 'confirmed',
                                     'in_progress', 'done')
                    AND (a.status <> 'held' OR a.hold_expires_at > now())),
                 s.name, s.id
    LOOP
        v_found := true;
        BEGIN
            -- Queue behind whoever is entering this specialist's constraint right now, so
            -- the loser sees a committed row and fails at once (no exclusion-check deadlock).
            PERFORM pg_advisory_xact_lock(
                hashtextextended(current_schema() || '/' || v_cand.sid::text, 0));
            INSERT INTO appointments (calendar_id, specialist_id, status, starts_at, ends_at,
                                      blocking, hold_expires_at, hold_token_hash, session_key)
            VALUES (p_calendar, v_cand.sid, 'held', p_start, v_cand.slot_end,
                    tstzrange(p_start, v_cand.slot_end + make_interval(mins => v_cand.buf)),
                    now() + make_interval(mins => p_hold_minutes), p_token_hash, p_session_key)
            RETURNING appointments.id, appointments.hold_expires_at INTO v_id, v_expires;
        EXCEPTION WHEN exclusion_violation THEN
            CONTINUE;  -- someone was first with this specialist; try the next one
        END;
        INSERT INTO public.hold_expiries (schema_name, appointment_id, expires_at)
        VALUES (current_schema(), v_id, v_expires);
        RETURN QUERY SELECT 'held', v_id, p_calendar, v_cand.sid, p_start, v_cand.slot_end,
                            v_expires, v_cand.buf;
        RETURN;
    END LOOP;

    IF v_found OR EXISTS (
        SELECT 1 FROM available_slots(p_calendar, p_start, p_start + interval '1 microsecond',
                                      now(), p_specialist, true) AS slot
        WHERE slot.slot_start = p_start) THEN
        RETURN QUERY SELECT 'slot_unavailable', NULL::uuid, NULL::uuid, NULL::uuid,
            NULL::timestamptz, NULL::timestamptz, NULL::timestamptz, NULL::integer;
    ELSE
        RETURN QUERY SELECT 'invalid_slot', NULL::uuid, NULL::uuid, NULL::uuid,
            NULL::timestamptz, NULL::timestamptz, NULL::timestamptz, NULL::integer;
    END IF;
END
$fn$;
