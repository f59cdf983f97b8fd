-- book_hold() starts the lifecycle (issue 11): the booking also records who booked (the
-- patient on the public page, or a staff member for a caller) in appointment_history, writes
-- the jobs of 'booked', schedules the move to 'upcoming' and publishes appointment.changed,
-- all in the booking's one transaction.
DROP FUNCTION book_hold(text, bytea, uuid, bytea, text, text, text, text, text, jsonb, bytea, bytea);

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
    p_sealed_secret bytea,
    p_actor_kind text,
    p_actor_id uuid
) RETURNS TABLE (replayed boolean, request_hash bytea, snapshot json, sealed_secret bytea)
LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT AS $fn$
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

