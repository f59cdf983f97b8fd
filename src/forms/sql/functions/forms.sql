-- Forms (0080_forms): one copy in schema public for every clinic (docs/architecture.md,
-- "Shared functions"). The triggers that read tables put their table's clinic first on the
-- search_path (TG_TABLE_SCHEMA) until they return; the others touch no table.

-- The confirm guard (docs/lifecycle.md): names of the appointment's required intake forms
-- not yet submitted, in the calendar's order. Reads the appointment's copy of the ids, so it
-- holds even before the booked actor has generated the instances. PL/pgSQL, so that the
-- plan is kept (a SQL function with a FROM is planned on every call; every confirm asks).
CREATE OR REPLACE FUNCTION intake_forms_missing(p_appointment uuid) RETURNS text[]
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (
        SELECT coalesce(array_agg(v.name ORDER BY r.ord), '{}')
        FROM appointments a
        CROSS JOIN LATERAL unnest(a.required_form_ids) WITH ORDINALITY AS r (template_id, ord)
        JOIN form_templates t ON t.id = r.template_id AND t.phase = 'intake'
        LEFT JOIN form_instances i ON i.appointment_id = a.id AND i.template_id = t.id
        JOIN form_template_versions v
          ON v.template_id = t.id AND v.version = coalesce(i.template_version, t.current_version)
        WHERE a.id = p_appointment AND i.status IS DISTINCT FROM 'submitted');
END
$$;

CREATE OR REPLACE FUNCTION form_template_versions_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'form template versions are append-only' USING ERRCODE = 'restrict_violation';
END
$$;

-- calendars.required_form_ids: every id must be a live intake template (checked when the
-- calendar is written, with the templates locked so a concurrent archive cannot slip by)...
CREATE OR REPLACE FUNCTION forms_check_calendar_forms() RETURNS trigger
LANGUAGE plpgsql SET search_path = public AS $$
DECLARE
    v_bad uuid;
BEGIN
    PERFORM enter_clinic_schema(TG_TABLE_SCHEMA);
    IF cardinality(NEW.required_form_ids) <>
       (SELECT count(DISTINCT x) FROM unnest(NEW.required_form_ids) x) THEN
        RAISE EXCEPTION 'duplicate_form' USING ERRCODE = 'foreign_key_violation',
            DETAIL = 'a form is named twice';
    END IF;
    PERFORM 1 FROM form_templates WHERE id = ANY (NEW.required_form_ids) FOR SHARE;
    SELECT x INTO v_bad FROM unnest(NEW.required_form_ids) x
    WHERE NOT EXISTS (SELECT 1 FROM form_templates t
                      WHERE t.id = x AND t.phase = 'intake' AND t.archived_at IS NULL)
    LIMIT 1;
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'unknown_form' USING ERRCODE = 'foreign_key_violation',
            DETAIL = v_bad::text;
    END IF;
    RETURN NEW;
END
$$;

-- ...and a template a calendar requires is neither archived nor deleted.
CREATE OR REPLACE FUNCTION forms_template_in_use() RETURNS trigger
LANGUAGE plpgsql SET search_path = public AS $$
BEGIN
    PERFORM enter_clinic_schema(TG_TABLE_SCHEMA);
    IF TG_OP = 'UPDATE' AND (NEW.archived_at IS NULL OR OLD.archived_at IS NOT NULL) THEN
        RETURN NEW;
    END IF;
    IF EXISTS (SELECT 1 FROM calendars c WHERE OLD.id = ANY (c.required_form_ids)) THEN
        RAISE EXCEPTION 'form_in_use' USING ERRCODE = 'foreign_key_violation',
            DETAIL = OLD.id::text;
    END IF;
    RETURN coalesce(NEW, OLD);
END
$$;

-- Instances of an appointment (idempotent): intake = the appointment's required forms,
-- post_appointment = every live post-appointment template of the clinic. Pins the current
-- version; returns how many were created. (PL/pgSQL: its plan is kept for the session.)
CREATE OR REPLACE FUNCTION generate_form_instances(p_appointment uuid, p_phase text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_made integer;
BEGIN
    WITH wanted AS (
        SELECT t.id, t.current_version
        FROM appointments a
        CROSS JOIN LATERAL unnest(a.required_form_ids) AS r (template_id)
        JOIN form_templates t ON t.id = r.template_id AND t.phase = 'intake'
        WHERE a.id = p_appointment AND p_phase = 'intake'
        UNION
        SELECT t.id, t.current_version
        FROM form_templates t
        WHERE p_phase = 'post_appointment' AND t.phase = 'post_appointment'
          AND t.archived_at IS NULL
          AND EXISTS (SELECT 1 FROM appointments a WHERE a.id = p_appointment)
    ), ins AS (
        INSERT INTO form_instances (appointment_id, template_id, template_version, phase)
        SELECT p_appointment, w.id, w.current_version, p_phase FROM wanted w
        ON CONFLICT (appointment_id, template_id) DO NOTHING
        RETURNING 1
    )
    SELECT count(*)::integer INTO v_made FROM ins;
    RETURN v_made;
END
$$;

-- The condition of the forms actors in public.lifecycle_effects: on 'booked' the appointment
-- requires intake forms; on 'done' the clinic has live post-appointment forms (what
-- generate_form_instances() would pick). PL/pgSQL: its plan is kept.
CREATE OR REPLACE FUNCTION forms_effect_wanted(p_appointment uuid, p_event text)
RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_event = 'booked' THEN
        RETURN EXISTS (SELECT 1 FROM appointments a
                       WHERE a.id = p_appointment AND cardinality(a.required_form_ids) > 0);
    END IF;
    RETURN EXISTS (SELECT 1 FROM form_templates t
                   WHERE t.phase = 'post_appointment' AND t.archived_at IS NULL);
END
$$;
