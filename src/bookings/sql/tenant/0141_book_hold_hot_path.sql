-- book_hold() of 0033_book_hold_lifecycle with less work per booking (issue 18, item 2).
-- Same arguments, result, outcomes and guarantees (idempotency, the hold's row lock, the
-- lifecycle's history and jobs and both events in the booking's one transaction); changed:
--   * keys older than 24 hours are no longer purged by every booking (an index probe and a
--     DELETE each time): the hold sweeper purges them per clinic (purge_idempotency_keys.sql,
--     bookings/sweeper.py), and every booking's hold brings its clinic to the sweeper when
--     the hold's expiry hint falls due, so a clinic that books keeps being purged;
--   * the helpers it calls were SQL functions with an INSERT or a FROM in their body, which
--     PostgreSQL never inlines: each call parsed and planned its statement again. They are
--     PL/pgSQL now (same bodies), so their plans are kept for the session:
--     enqueue_lifecycle_jobs(), schedule_upcoming(), publish_appointment_changed(),
--     publish_slot_event() (and schedule_job(), carebook 0140).

CREATE OR REPLACE FUNCTION enqueue_lifecycle_jobs(p_appointment uuid, p_event text,
                                                  p_version integer, p_history bigint)
RETURNS void LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
    INSERT INTO public.job_outbox (schema_name, actor, args)
    SELECT current_schema(), e.actor,
           jsonb_build_object('appointment_id', p_appointment, 'event', p_event,
                              'version', p_version, 'history_id', p_history)
    FROM public.lifecycle_effects e
    WHERE e.event = p_event
    ORDER BY e.actor;
END
$fn$;

CREATE OR REPLACE FUNCTION schedule_upcoming(p_appointment uuid, p_start timestamptz)
RETURNS void LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
    PERFORM schedule_job(
        'appointment:' || p_appointment || ':upcoming', 'bookings.mark_upcoming',
        jsonb_build_object('appointment_id', p_appointment, 'starts_at', event_instant(p_start)),
        p_start - make_interval(hours => clinic_setting_int('reminder_lead_hours', 24)));
END
$fn$;

CREATE OR REPLACE FUNCTION publish_appointment_changed(p_id uuid) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
    RETURN (SELECT publish_event('appointment.changed', a.specialist_id, jsonb_build_object(
                'appointment_id', a.id, 'status', a.status, 'version', a.version,
                'calendar_id', a.calendar_id, 'specialist_id', a.specialist_id,
                'start', event_instant(a.starts_at), 'end', event_instant(a.ends_at)))
            FROM appointments a WHERE a.id = p_id);
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

