-- The appointment lifecycle (0031, 0141): one copy in schema public for every clinic, run on the
-- caller's search_path (docs/architecture.md, "Shared functions").

CREATE OR REPLACE FUNCTION refuse_history_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION 'appointment_history is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$fn$;

-- The transition table, once: which action moves which status where, and who may take it.
-- ('staff' = clinic admins and receptionists; 'specialist' = the appointment's own specialist.)
CREATE OR REPLACE FUNCTION lifecycle_transitions()
RETURNS TABLE (action text, from_status text, to_status text, actor_kinds text[])
LANGUAGE sql IMMUTABLE AS $fn$
    VALUES
        ('upcoming', 'booked',      'upcoming',    ARRAY['system']),
        ('confirm',  'upcoming',    'confirmed',   ARRAY['staff', 'specialist']),
        ('start',    'confirmed',   'in_progress', ARRAY['staff', 'specialist']),
        ('complete', 'in_progress', 'done',        ARRAY['staff', 'specialist']),
        ('cancel',   'booked',      'cancelled',   ARRAY['patient', 'staff', 'specialist']),
        ('cancel',   'upcoming',    'cancelled',   ARRAY['patient', 'staff', 'specialist']),
        ('cancel',   'confirmed',   'cancelled',   ARRAY['patient', 'staff', 'specialist']),
        ('no_show',  'upcoming',    'no_show',     ARRAY['staff', 'specialist']),
        ('no_show',  'confirmed',   'no_show',     ARRAY['staff', 'specialist'])
$fn$;

-- The actions an actor kind may take from a status (what a 409 invalid_transition names).
CREATE OR REPLACE FUNCTION allowed_actions(p_status text, p_actor_kind text) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT coalesce(array_agg(t.action ORDER BY t.action), '{}')
    FROM lifecycle_transitions() t
    WHERE t.from_status = p_status AND p_actor_kind = ANY (t.actor_kinds)
$fn$;

CREATE OR REPLACE FUNCTION lifecycle_outcome(p_code text, p_extra jsonb DEFAULT '{}'::jsonb) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION USING MESSAGE = p_code, DETAIL = 'carebook outcome', HINT = p_extra::text;
END
$fn$;

-- The jobs of one lifecycle event: every effect listed for it, except those whose condition
-- (lifecycle_effects.only_if, a shared function of the owning domain) says it has nothing to
-- do for this appointment. One INSERT, so the outbox's NOTIFY trigger fires once.
CREATE OR REPLACE FUNCTION enqueue_lifecycle_jobs(p_appointment uuid, p_event text,
                                                  p_version integer, p_history bigint)
RETURNS void LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    e record;
    v_wanted boolean;
    v_actors text[] := '{}';
BEGIN
    FOR e IN SELECT le.actor, le.only_if FROM public.lifecycle_effects le
             WHERE le.event = p_event ORDER BY le.actor LOOP
        IF e.only_if IS NOT NULL THEN
            EXECUTE format('SELECT public.%I($1, $2)', e.only_if)
                INTO v_wanted USING p_appointment, p_event;
            CONTINUE WHEN v_wanted IS FALSE;
        END IF;
        v_actors := v_actors || e.actor;
    END LOOP;
    IF cardinality(v_actors) > 0 THEN
        INSERT INTO public.job_outbox (schema_name, actor, args)
        SELECT current_schema(), a.actor,
               jsonb_build_object('appointment_id', p_appointment, 'event', p_event,
                                  'version', p_version, 'history_id', p_history)
        FROM unnest(v_actors) WITH ORDINALITY AS a (actor, ord)
        ORDER BY a.ord;
    END IF;
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

CREATE OR REPLACE FUNCTION transition_appointment(
    p_id uuid,
    p_action text,
    p_version integer,
    p_actor_kind text,
    p_actor_id uuid,
    p_reason text
) RETURNS TABLE (id uuid, status text, version integer, history_id bigint)
LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
DECLARE
    a record;
    t record;
    v_missing text[];
    v_hist bigint;
BEGIN
    SELECT ap.* INTO a FROM appointments ap WHERE ap.id = p_id FOR UPDATE;
    IF NOT FOUND OR a.status IN ('held', 'released', 'expired') THEN
        PERFORM lifecycle_outcome('appointment_not_found');
    END IF;
    IF p_actor_kind = 'specialist' AND NOT EXISTS (
            SELECT 1 FROM specialists s WHERE s.id = a.specialist_id AND s.staff_user = p_actor_id)
    THEN
        PERFORM lifecycle_outcome('not_your_appointment');
    END IF;
    IF p_version IS NOT NULL AND p_version <> a.version THEN
        PERFORM lifecycle_outcome('version_conflict',
                                  jsonb_build_object('current_version', a.version));
    END IF;
    SELECT lt.* INTO t FROM lifecycle_transitions() lt
    WHERE lt.action = p_action AND lt.from_status = a.status
      AND p_actor_kind = ANY (lt.actor_kinds);
    IF NOT FOUND THEN
        PERFORM lifecycle_outcome('invalid_transition', jsonb_build_object(
            'status', a.status, 'action', p_action,
            'allowed', to_jsonb(allowed_actions(a.status, p_actor_kind))));
    END IF;

    -- Guards of §1.
    IF p_action = 'start' AND now() < a.starts_at - interval '15 minutes' THEN
        PERFORM lifecycle_outcome('too_early', jsonb_build_object(
            'not_before', event_instant(a.starts_at - interval '15 minutes')));
    ELSIF p_action = 'no_show' AND now() < a.starts_at
            + make_interval(mins => clinic_setting_int('no_show_grace_minutes', 10)) THEN
        PERFORM lifecycle_outcome('too_early', jsonb_build_object(
            'not_before', event_instant(a.starts_at
                + make_interval(mins => clinic_setting_int('no_show_grace_minutes', 10)))));
    ELSIF p_action = 'cancel' AND p_actor_kind = 'patient' AND now() > a.starts_at
            - make_interval(hours => clinic_setting_int('cancellation_cutoff_hours', 24)) THEN
        PERFORM lifecycle_outcome('cancellation_cutoff_passed');
    ELSIF p_action = 'confirm' THEN
        v_missing := intake_forms_missing(p_id);
        IF cardinality(v_missing) > 0 THEN
            PERFORM lifecycle_outcome('intake_forms_missing',
                                      jsonb_build_object('missing', to_jsonb(v_missing)));
        END IF;
    END IF;

    UPDATE appointments ap SET status = t.to_status, version = ap.version + 1, updated_at = now()
    WHERE ap.id = p_id;
    INSERT INTO appointment_history (appointment_id, event, from_status, to_status, actor_kind,
                                     actor_id, reason)
    VALUES (p_id, 'transition', a.status, t.to_status, p_actor_kind, p_actor_id, p_reason)
    RETURNING appointment_history.id INTO v_hist;
    PERFORM enqueue_lifecycle_jobs(p_id, t.to_status, a.version + 1, v_hist);
    IF t.to_status IN ('cancelled', 'no_show') THEN
        PERFORM unschedule_jobs('appointment:' || p_id || ':');
    END IF;
    -- Events last: publish_event() serialises this clinic's publishers until commit.
    IF t.to_status = 'cancelled' THEN
        PERFORM publish_slot_event('slot.released', a.calendar_id, a.specialist_id,
                                   a.starts_at, a.ends_at, 0);
    END IF;
    PERFORM publish_appointment_changed(p_id);
    RETURN QUERY SELECT p_id, t.to_status, a.version + 1, v_hist;
END
$fn$;

-- Move an appointment to another slot of its calendar, atomically: the new slot is checked by
-- the availability engine and taken under the exclusion constraint and the old one freed, or
-- nothing changes. The appointment keeps its id, history, forms and manage link, and returns
-- to 'booked' (it is reminded and confirmed again for its new time).
CREATE OR REPLACE FUNCTION reschedule_appointment(
    p_id uuid,
    p_version integer,
    p_start timestamptz,
    p_specialist uuid,
    p_actor_kind text,
    p_actor_id uuid,
    p_reason text
) RETURNS TABLE (id uuid, status text, version integer, history_id bigint)
LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
DECLARE
    a record;
    v_cand record;
    v_done boolean := false;
    v_hist bigint;
    v_new record;
BEGIN
    SELECT ap.* INTO a FROM appointments ap WHERE ap.id = p_id FOR UPDATE;
    IF NOT FOUND OR a.status IN ('held', 'released', 'expired') THEN
        PERFORM lifecycle_outcome('appointment_not_found');
    END IF;
    IF p_actor_kind = 'specialist' THEN
        IF NOT EXISTS (SELECT 1 FROM specialists s
                       WHERE s.id = a.specialist_id AND s.staff_user = p_actor_id) THEN
            PERFORM lifecycle_outcome('not_your_appointment');
        END IF;
        p_specialist := a.specialist_id;  -- specialists move only their own appointments
    END IF;
    IF p_version IS NOT NULL AND p_version <> a.version THEN
        PERFORM lifecycle_outcome('version_conflict',
                                  jsonb_build_object('current_version', a.version));
    END IF;
    IF a.status NOT IN ('booked', 'upcoming', 'confirmed') OR p_actor_kind = 'system' THEN
        PERFORM lifecycle_outcome('invalid_transition', jsonb_build_object(
            'status', a.status, 'action', 'reschedule',
            'allowed', to_jsonb(allowed_actions(a.status, p_actor_kind))));
    END IF;
    IF p_actor_kind = 'patient' AND now() > a.starts_at
            - make_interval(hours => clinic_setting_int('cancellation_cutoff_hours', 24)) THEN
        PERFORM lifecycle_outcome('cancellation_cutoff_passed');
    END IF;
    IF p_specialist IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM calendar_specialists cs
            WHERE cs.calendar_id = a.calendar_id AND cs.specialist_id = p_specialist) THEN
        PERFORM lifecycle_outcome('invalid_slot');
    END IF;

    -- Out of the engine's and the constraint's sight for the rest of this transaction
    -- (others keep seeing the old row until commit), so it never blocks its own move.
    UPDATE appointments ap SET status = 'released' WHERE ap.id = p_id;

    FOR v_cand IN
        SELECT f.specialist_id AS sid, f.slot_end, s.buffer_minutes AS buf
        FROM (SELECT DISTINCT slot.specialist_id, slot.slot_end
              FROM available_slots(a.calendar_id, p_start, p_start + interval '1 microsecond',
                                   now(), p_specialist, false) AS slot
              WHERE slot.slot_start = p_start) AS f
        JOIN specialists s ON s.id = f.specialist_id
        ORDER BY (f.specialist_id = a.specialist_id) DESC, s.name, s.id
    LOOP
        BEGIN
            -- Queue behind whoever enters this specialist's constraint (as place_hold does).
            PERFORM pg_advisory_xact_lock(
                hashtextextended(current_schema() || '/' || v_cand.sid::text, 0));
            UPDATE appointments ap
            SET status = 'booked', specialist_id = v_cand.sid, starts_at = p_start,
                ends_at = v_cand.slot_end,
                blocking = tstzrange(p_start, v_cand.slot_end + make_interval(mins => v_cand.buf)),
                duration_minutes = (extract(epoch FROM v_cand.slot_end - p_start) / 60)::integer,
                version = a.version + 1, updated_at = now()
            WHERE ap.id = p_id;
        EXCEPTION WHEN exclusion_violation THEN
            CONTINUE;
        END;
        v_done := true;
        EXIT;
    END LOOP;
    IF NOT v_done THEN
        IF EXISTS (SELECT 1 FROM available_slots(a.calendar_id, p_start,
                                                 p_start + interval '1 microsecond', now(),
                                                 p_specialist, true) AS slot
                   WHERE slot.slot_start = p_start) THEN
            PERFORM lifecycle_outcome('slot_unavailable');
        END IF;
        PERFORM lifecycle_outcome('invalid_slot');
    END IF;

    SELECT ap.*, s.buffer_minutes INTO v_new
    FROM appointments ap JOIN specialists s ON s.id = ap.specialist_id WHERE ap.id = p_id;
    INSERT INTO appointment_history (appointment_id, event, from_status, to_status, actor_kind,
                                     actor_id, reason, details)
    VALUES (p_id, 'rescheduled', a.status, 'booked', p_actor_kind, p_actor_id, p_reason,
            jsonb_build_object('from_start', event_instant(a.starts_at),
                               'to_start', event_instant(v_new.starts_at),
                               'from_specialist_id', a.specialist_id,
                               'to_specialist_id', v_new.specialist_id))
    RETURNING appointment_history.id INTO v_hist;
    PERFORM unschedule_jobs('appointment:' || p_id || ':');
    PERFORM schedule_upcoming(p_id, v_new.starts_at);
    PERFORM enqueue_lifecycle_jobs(p_id, 'rescheduled', v_new.version, v_hist);
    PERFORM publish_slot_event('slot.released', a.calendar_id, a.specialist_id, a.starts_at,
                               a.ends_at, 0);
    PERFORM publish_slot_event('slot.booked', v_new.calendar_id, v_new.specialist_id,
                               v_new.starts_at, v_new.ends_at, v_new.buffer_minutes);
    PERFORM publish_appointment_changed(p_id);
    RETURN QUERY SELECT p_id, 'booked'::text, v_new.version, v_hist;
END
$fn$;
-- Entry points (docs/architecture.md, "Shared functions"): the use case of one request in
-- one round trip, without a transaction block, so without a tenant search_path; the clinic's
-- schema comes first and is on the search_path until the function returns.

CREATE OR REPLACE FUNCTION transition_appointment_in(
    p_schema text,
    p_id uuid,
    p_action text,
    p_version integer,
    p_actor_kind text,
    p_actor_id uuid,
    p_reason text
) RETURNS TABLE (id uuid, status text, version integer, history_id bigint)
LANGUAGE plpgsql VOLATILE SET search_path = public AS $fn$
BEGIN
    PERFORM enter_clinic_schema(p_schema);
    RETURN QUERY SELECT * FROM public.transition_appointment(
        p_id, p_action, p_version, p_actor_kind, p_actor_id, p_reason);
END
$fn$;

CREATE OR REPLACE FUNCTION reschedule_appointment_in(
    p_schema text,
    p_id uuid,
    p_version integer,
    p_start timestamptz,
    p_specialist uuid,
    p_actor_kind text,
    p_actor_id uuid,
    p_reason text
) RETURNS TABLE (id uuid, status text, version integer, history_id bigint)
LANGUAGE plpgsql VOLATILE SET search_path = public AS $fn$
BEGIN
    PERFORM enter_clinic_schema(p_schema);
    RETURN QUERY SELECT * FROM public.reschedule_appointment(
        p_id, p_version, p_start, p_specialist, p_actor_kind, p_actor_id, p_reason);
END
$fn$;
