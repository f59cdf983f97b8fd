-- Holds and bookings (0020-0052, 0141): one copy in schema public for every clinic, run on the
-- caller's search_path (docs/architecture.md, "Shared functions").

-- blocking_ranges() of 0020_appointments, same signature and rows, in PL/pgSQL (issue 18).
--
-- The engine calls it with a sub-select argument, which keeps it out of the engine's own
-- plan; as a LANGUAGE sql function it was therefore parsed and planned again on every call
-- (most of a point-mode engine call's time). PL/pgSQL keeps its plan for the session.
CREATE OR REPLACE FUNCTION blocking_ranges(p_specialists uuid[], p_window tstzrange,
                                           p_now timestamptz)
RETURNS TABLE (specialist_id uuid, blocking tstzrange)
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    RETURN QUERY
    SELECT a.specialist_id, a.blocking
    FROM appointments a
    WHERE a.specialist_id = ANY (p_specialists)
      AND a.blocking && p_window
      AND a.status IN ('held', 'booked', 'upcoming', 'confirmed', 'in_progress', 'done')
      AND (a.status <> 'held' OR a.hold_expires_at > p_now);
END
$fn$;

-- The holds of p_specialists that block now and lapse later: from its expiry on,
-- blocking_ranges() no longer counts a hold, before the sweeper has expired it (and published
-- slot.released). A kept slots piece (calendars/slots_cache.py) that such a hold touches is
-- current only until then. The partial index on held appointments' expiry answers it.
CREATE OR REPLACE FUNCTION live_holds(p_specialists uuid[], p_now timestamptz)
RETURNS TABLE (blocking tstzrange, expires_at timestamptz)
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    RETURN QUERY
    SELECT a.blocking, a.hold_expires_at
    FROM appointments a
    WHERE a.status = 'held' AND a.hold_expires_at > p_now
      AND a.specialist_id = ANY (p_specialists);
END
$fn$;

-- The previous release's (calendars' slots_cache_state_in() calls it): kept one release for
-- instances still running it during a rolling deploy. Drop it in the next release.
CREATE OR REPLACE FUNCTION next_hold_expiry(p_now timestamptz) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    RETURN (SELECT min(a.hold_expires_at) FROM appointments a
            WHERE a.status = 'held' AND a.hold_expires_at > p_now);
END
$fn$;

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

CREATE OR REPLACE FUNCTION publish_slot_event(p_type text, p_calendar uuid, p_specialist uuid,
                                              p_start timestamptz, p_end timestamptz,
                                              p_buffer integer)
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
    RETURN publish_event(p_type, p_specialist, jsonb_build_object(
        'specialist_id', p_specialist, 'calendar_id', p_calendar,
        'start', event_instant(p_start), 'end', event_instant(p_end),
        'buffer_minutes', p_buffer));
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
LANGUAGE plpgsql VOLATILE AS $fn$
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

CREATE OR REPLACE FUNCTION book_hold(
    p_key text,
    p_request_hash bytea,
    p_hold uuid,
    p_hold_token_hash bytea,
    p_email text,
    p_name text,
    p_phone text,
    p_timezone text,
    p_notes text,
    p_answers jsonb,
    p_manage_token_hash bytea,
    p_sealed_secret bytea,
    p_actor_kind text,
    p_actor_id uuid
) RETURNS TABLE (replayed boolean, request_hash bytea, snapshot json, sealed_secret bytea)
LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
DECLARE
    h record;
    v_patient uuid;
    v_snapshot json;
    v_version integer;
    v_hist bigint;
BEGIN
    -- A concurrent attempt with the same key makes this INSERT wait for its outcome.
    INSERT INTO idempotency_keys (key, request_hash) VALUES (p_key, p_request_hash)
    ON CONFLICT (key) DO NOTHING;
    IF NOT FOUND THEN
        RETURN QUERY SELECT true, k.request_hash, k.response, k.sealed_secret
                     FROM idempotency_keys k WHERE k.key = p_key;
        RETURN;
    END IF;

    SELECT a.id, a.calendar_id, a.specialist_id, a.starts_at, a.ends_at, a.status,
           a.hold_token_hash, c.name AS calendar_name, c.slug AS calendar_slug,
           c.price_minor, c.currency, c.required_form_ids, s.name AS specialist_name,
           s.buffer_minutes
    INTO h
    FROM appointments a
    JOIN calendars c ON c.id = a.calendar_id
    JOIN specialists s ON s.id = a.specialist_id
    WHERE a.id = p_hold
    FOR UPDATE OF a;
    IF NOT FOUND OR h.hold_token_hash IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = 'hold_not_found', DETAIL = 'carebook outcome';
    END IF;
    IF h.hold_token_hash <> p_hold_token_hash THEN
        RAISE EXCEPTION USING MESSAGE = 'invalid_hold_token', DETAIL = 'carebook outcome';
    END IF;
    IF h.status = 'released' THEN
        RAISE EXCEPTION USING MESSAGE = 'hold_released', DETAIL = 'carebook outcome';
    ELSIF h.status NOT IN ('held', 'expired') THEN
        RAISE EXCEPTION USING MESSAGE = 'hold_already_booked', DETAIL = 'carebook outcome';
    END IF;
    IF h.status = 'expired' THEN
        -- It re-enters the constraint: queue like place_hold() does (no exclusion deadlock).
        PERFORM pg_advisory_xact_lock(
            hashtextextended(current_schema() || '/' || h.specialist_id::text, 0));
    END IF;

    -- Each statement of a function sees what committed before it began, so a patient that
    -- a concurrent booking created (and ON CONFLICT waited for) is found by the SELECT.
    INSERT INTO patients (email, name, phone, timezone)
    VALUES (p_email, p_name, p_phone, p_timezone)
    ON CONFLICT ((lower(email))) DO NOTHING
    RETURNING id INTO v_patient;
    IF v_patient IS NULL THEN
        SELECT p.id INTO v_patient FROM patients p WHERE lower(p.email) = lower(p_email);
    END IF;

    UPDATE appointments a
    SET status = 'booked',
        patient_id = v_patient,
        price_minor = h.price_minor,
        currency = h.currency,
        duration_minutes = (extract(epoch FROM a.ends_at - a.starts_at) / 60)::integer,
        required_form_ids = h.required_form_ids,
        notes = p_notes,
        answers = p_answers,
        manage_token_hash = p_manage_token_hash,
        version = a.version + 1,
        updated_at = now()
    WHERE a.id = p_hold
    RETURNING a.version INTO v_version;

    -- The lifecycle starts here (docs/lifecycle.md): history, the jobs of 'booked', the timed
    -- move to 'upcoming'.
    INSERT INTO appointment_history (appointment_id, event, from_status, to_status, actor_kind,
                                     actor_id)
    VALUES (p_hold, 'booked', 'held', 'booked', p_actor_kind,
            CASE WHEN p_actor_kind = 'patient' THEN v_patient ELSE p_actor_id END)
    RETURNING appointment_history.id INTO v_hist;
    PERFORM enqueue_lifecycle_jobs(p_hold, 'booked', v_version, v_hist);
    PERFORM schedule_upcoming(p_hold, h.starts_at);

    -- What the response is rendered from (bookings/booking.py), for the first attempt and
    -- every replay alike; it holds no secret.
    v_snapshot := json_build_object(
        'appointment_id', h.id, 'start', h.starts_at, 'end', h.ends_at,
        'specialist', json_build_object('id', h.specialist_id, 'name', h.specialist_name),
        'calendar', json_build_object('id', h.calendar_id, 'name', h.calendar_name,
                                      'slug', h.calendar_slug),
        'price', json_build_object('amount_minor', h.price_minor, 'currency', h.currency));
    UPDATE idempotency_keys k
    SET response = v_snapshot, sealed_secret = p_sealed_secret, appointment_id = p_hold
    WHERE k.key = p_key;

    PERFORM publish_slot_event('slot.booked', h.calendar_id, h.specialist_id, h.starts_at,
                               h.ends_at, h.buffer_minutes);
    PERFORM publish_appointment_changed(p_hold);
    RETURN QUERY SELECT false, p_request_hash, v_snapshot, p_sealed_secret;
END
$fn$;
-- Entry points (docs/architecture.md, "Shared functions"): the use case of one request in
-- one round trip, without a transaction block, so without a tenant search_path; the clinic's
-- schema comes first and is on the search_path until the function returns.

CREATE OR REPLACE FUNCTION hold_slot_in(
    p_schema text,
    p_calendar uuid,
    p_start timestamptz,
    p_specialist uuid,
    p_session_key text,
    p_token_hash bytea,
    p_hold_minutes integer,
    p_clinic_zone text
) RETURNS TABLE (id uuid, specialist_id uuid, ends_at timestamptz, expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SET search_path = public AS $fn$
BEGIN
    PERFORM enter_clinic_schema(p_schema);
    RETURN QUERY SELECT * FROM public.hold_slot(
        p_calendar, p_start, p_specialist, p_session_key, p_token_hash, p_hold_minutes,
        p_clinic_zone);
END
$fn$;

-- The previous release's signature (15 arguments, no language): kept one release for
-- instances still running it during a rolling deploy. Drop it in the next release.
CREATE OR REPLACE FUNCTION book_hold_in(
    p_schema text, p_key text, p_request_hash bytea, p_hold uuid, p_hold_token_hash bytea,
    p_email text, p_name text, p_phone text, p_timezone text, p_notes text, p_answers jsonb,
    p_manage_token_hash bytea, p_sealed_secret bytea, p_actor_kind text, p_actor_id uuid
) RETURNS TABLE (replayed boolean, request_hash bytea, snapshot json, sealed_secret bytea)
LANGUAGE plpgsql VOLATILE SET search_path = public AS $fn$
BEGIN
    RETURN QUERY SELECT * FROM public.book_hold_in(
        p_schema, p_key, p_request_hash, p_hold, p_hold_token_hash, p_email, p_name, p_phone,
        p_timezone, p_notes, p_answers, p_manage_token_hash, p_sealed_secret, p_actor_kind,
        p_actor_id, NULL::text);
END
$fn$;

-- This release's: p_language is the language the patient chose on the page (NULL: none),
-- recorded by the notifications domain in the booking's transaction
-- (remember_patient_language()). No default, so that a call with 15 arguments still means
-- the function above (two candidates would make it ambiguous).
CREATE OR REPLACE FUNCTION book_hold_in(
    p_schema text,
    p_key text,
    p_request_hash bytea,
    p_hold uuid,
    p_hold_token_hash bytea,
    p_email text,
    p_name text,
    p_phone text,
    p_timezone text,
    p_notes text,
    p_answers jsonb,
    p_manage_token_hash bytea,
    p_sealed_secret bytea,
    p_actor_kind text,
    p_actor_id uuid,
    p_language text
) RETURNS TABLE (replayed boolean, request_hash bytea, snapshot json, sealed_secret bytea)
LANGUAGE plpgsql VOLATILE SET search_path = public AS $fn$
BEGIN
    PERFORM enter_clinic_schema(p_schema);
    RETURN QUERY SELECT * FROM public.book_hold(
        p_key, p_request_hash, p_hold, p_hold_token_hash, p_email, p_name, p_phone, p_timezone,
        p_notes, p_answers, p_manage_token_hash, p_sealed_secret, p_actor_kind, p_actor_id);
    PERFORM public.remember_patient_language(p_email, p_language);
END
$fn$;
