-- The appointment lifecycle (appointments spec §1, issue 11; docs/lifecycle.md).
--
-- transition_appointment() is the only writer of appointments.status after booking. In the
-- caller's single transaction it locks the row, checks who may act, the version (optimistic
-- concurrency), the transition table and its guards, updates the row, appends the history,
-- writes the jobs the transition causes (public.job_outbox, via public.lifecycle_effects)
-- and publishes the live events. Outcomes RAISE with their code as the message (DETAIL
-- 'carebook outcome', HINT a JSON object of extra members), which rolls all of it back.

-- Who did what to an appointment: append-only.
CREATE TABLE appointment_history (
    id bigserial PRIMARY KEY,
    appointment_id uuid NOT NULL REFERENCES appointments (id),
    event text NOT NULL CHECK (event IN ('booked', 'transition', 'rescheduled')),
    from_status varchar(16) NOT NULL,
    to_status varchar(16) NOT NULL,
    actor_kind text NOT NULL CHECK (actor_kind IN ('patient', 'staff', 'specialist', 'system')),
    actor_id uuid,
    reason text CHECK (length(reason) <= 1000),
    details jsonb NOT NULL DEFAULT '{}'::jsonb,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX appointment_history_appointment_idx ON appointment_history (appointment_id, id);

CREATE FUNCTION refuse_history_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION 'appointment_history is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$fn$;
CREATE TRIGGER appointment_history_append_only
    BEFORE UPDATE OR DELETE ON appointment_history
    FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER appointment_history_no_truncate
    BEFORE TRUNCATE ON appointment_history
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();

-- The transition table, once: which action moves which status where, and who may take it.
-- ('staff' = clinic admins and receptionists; 'specialist' = the appointment's own specialist.)
CREATE FUNCTION lifecycle_transitions()
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
CREATE FUNCTION allowed_actions(p_status text, p_actor_kind text) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT coalesce(array_agg(t.action ORDER BY t.action), '{}')
    FROM lifecycle_transitions() t
    WHERE t.from_status = p_status AND p_actor_kind = ANY (t.actor_kinds)
$fn$;

-- The confirm guard: names of required intake forms not yet submitted. The forms domain
-- replaces this function (CREATE OR REPLACE) when it lands; until then nothing is missing.
CREATE FUNCTION intake_forms_missing(p_appointment uuid) RETURNS text[]
LANGUAGE sql STABLE AS $fn$
    SELECT '{}'::text[]
$fn$;

CREATE FUNCTION lifecycle_outcome(p_code text, p_extra jsonb DEFAULT '{}'::jsonb) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION USING MESSAGE = p_code, DETAIL = 'carebook outcome', HINT = p_extra::text;
END
$fn$;

-- The jobs a lifecycle event causes, in the caller's transaction.
CREATE FUNCTION enqueue_lifecycle_jobs(p_appointment uuid, p_event text, p_version integer,
                                       p_history bigint) RETURNS void
LANGUAGE sql VOLATILE AS $fn$
    INSERT INTO public.job_outbox (schema_name, actor, args)
    SELECT current_schema(), e.actor,
           jsonb_build_object('appointment_id', p_appointment, 'event', p_event,
                              'version', p_version, 'history_id', p_history)
    FROM public.lifecycle_effects e
    WHERE e.event = p_event
    ORDER BY e.actor
$fn$;

-- booked -> upcoming is timed work: due reminder_lead_hours before the start (at once when
-- that is past). Key 'appointment:<id>:' prefixes every timed job of one appointment, so a
-- cancel or a reschedule drops them all.
CREATE FUNCTION schedule_upcoming(p_appointment uuid, p_start timestamptz) RETURNS void
LANGUAGE sql VOLATILE AS $fn$
    SELECT schedule_job(
        'appointment:' || p_appointment || ':upcoming', 'bookings.mark_upcoming',
        jsonb_build_object('appointment_id', p_appointment, 'starts_at', event_instant(p_start)),
        p_start - make_interval(hours => clinic_setting_int('reminder_lead_hours', 24)))
$fn$;

-- appointment.changed for staff pages (never sent on public streams): ids and times only.
CREATE FUNCTION publish_appointment_changed(p_id uuid) RETURNS bigint
LANGUAGE sql VOLATILE AS $fn$
    SELECT publish_event('appointment.changed', a.specialist_id, jsonb_build_object(
        'appointment_id', a.id, 'status', a.status, 'version', a.version,
        'calendar_id', a.calendar_id, 'specialist_id', a.specialist_id,
        'start', event_instant(a.starts_at), 'end', event_instant(a.ends_at)))
    FROM appointments a WHERE a.id = p_id
$fn$;

CREATE FUNCTION transition_appointment(
    p_id uuid,
    p_action text,
    p_version integer,
    p_actor_kind text,
    p_actor_id uuid,
    p_reason text
) RETURNS TABLE (id uuid, status text, version integer, history_id bigint)
LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT AS $fn$
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
CREATE FUNCTION reschedule_appointment(
    p_id uuid,
    p_version integer,
    p_start timestamptz,
    p_specialist uuid,
    p_actor_kind text,
    p_actor_id uuid,
    p_reason text
) RETURNS TABLE (id uuid, status text, version integer, history_id bigint)
LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT AS $fn$
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
