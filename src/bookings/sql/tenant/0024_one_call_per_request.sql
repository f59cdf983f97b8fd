-- One database call per public hold and booking request (issue 5, throughput).
--
-- hold_slot() and book_hold() are each the whole use case of one request, called by the app
-- as a single statement outside any explicit transaction: the statement's implicit
-- transaction is the use case's transaction. Outcomes that must undo what was done on the way
-- (a stale hold expired, a session's previous hold released, an Idempotency-Key claimed)
-- RAISE with the outcome's code as the message (SQLSTATE P0001), which rolls all of it back;
-- bookings/outcomes.py turns the code into its 4xx. SET search_path FROM CURRENT pins each
-- function to the clinic schema it was created in.

-- slot.held / slot.booked / slot.released with the public keys only (no patient data).
-- Like publish_event(), it runs on the caller's search_path (no SET clause).
CREATE FUNCTION publish_slot_event(p_type text, p_calendar uuid, p_specialist uuid,
                                   p_start timestamptz, p_end timestamptz, p_buffer integer)
RETURNS bigint LANGUAGE sql VOLATILE AS $fn$
    SELECT publish_event(p_type, p_specialist, jsonb_build_object(
        'specialist_id', p_specialist, 'calendar_id', p_calendar,
        'start', event_instant(p_start), 'end', event_instant(p_end),
        'buffer_minutes', p_buffer))
$fn$;

-- place_hold() plus its live-update events; error outcomes raise (and roll back).
CREATE FUNCTION hold_slot(
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
            PERFORM publish_slot_event('slot.released', r.calendar_id, r.specialist_id,
                                       r.starts_at, r.ends_at, 0);
        ELSIF r.kind = 'held' THEN
            v_held := r;
        ELSE
            RAISE EXCEPTION USING MESSAGE = r.kind, DETAIL = 'carebook outcome';
        END IF;
    END LOOP;
    PERFORM publish_slot_event('slot.held', p_calendar, v_held.specialist_id, p_start,
                               v_held.ends_at, v_held.buffer_minutes);
    RETURN QUERY SELECT v_held.id, v_held.specialist_id, v_held.ends_at, v_held.expires_at;
END
$fn$;

-- Book a hold idempotently. A key seen before returns that attempt's row (replayed = true:
-- the caller compares request hashes and unseals the manage token); otherwise the key is
-- claimed, the hold checked and booked, the patient found or created (by email,
-- case-insensitively; an existing patient is never rewritten by a public booking), the
-- booking's snapshot stored under the key, and slot.booked published. Hold tokens are
-- compared as SHA-256 digests, which leaks nothing useful about the token through timing.
-- An expired hold re-enters the exclusion constraint: 23P01 when its slot was taken.
CREATE FUNCTION book_hold(
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
    p_sealed_secret bytea
) RETURNS TABLE (replayed boolean, request_hash bytea, snapshot json, sealed_secret bytea)
LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT AS $fn$
#variable_conflict use_column
DECLARE
    h record;
    v_patient uuid;
    v_snapshot json;
BEGIN
    -- A concurrent attempt with the same key makes this INSERT wait for its outcome.
    INSERT INTO idempotency_keys (key, request_hash) VALUES (p_key, p_request_hash)
    ON CONFLICT (key) DO NOTHING;
    IF NOT FOUND THEN
        RETURN QUERY SELECT true, k.request_hash, k.response, k.sealed_secret
                     FROM idempotency_keys k WHERE k.key = p_key;
        RETURN;
    END IF;
    -- Keys older than 24 hours go a few at a time, so no per-clinic job is needed.
    -- (= ANY (ARRAY(…)) keeps this a primary-key probe whatever the table's size.)
    DELETE FROM idempotency_keys
    WHERE key = ANY (ARRAY(SELECT k.key FROM idempotency_keys k
                           WHERE k.created_at < now() - interval '24 hours'
                           ORDER BY k.created_at LIMIT 20));

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
    WHERE a.id = p_hold;

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
    RETURN QUERY SELECT false, p_request_hash, v_snapshot, p_sealed_secret;
END
$fn$;

-- Stored responses of the earlier format (a JSON body with a placeholder) cannot be
-- rendered any more; a retry of such a booking now gets 409 hold_already_booked instead of
-- the replay (never a second booking).
DELETE FROM idempotency_keys;
