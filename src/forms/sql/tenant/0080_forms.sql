-- Forms (appointments spec §4): versioned templates, instances pinned to a version, the
-- integrity of calendars' required_form_ids, and the confirm guard.

CREATE TABLE form_templates (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    phase varchar(20) NOT NULL CHECK (phase IN ('intake', 'post_appointment')),
    current_version integer NOT NULL DEFAULT 1 CHECK (current_version >= 1),
    archived_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Every edit of a template is a new row here; rows are never changed, so an instance that
-- pins (template_id, version) always reads the questions its answers were given to.
CREATE TABLE form_template_versions (
    template_id uuid NOT NULL REFERENCES form_templates (id),
    version integer NOT NULL CHECK (version >= 1),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '',
    fields jsonb NOT NULL CHECK (jsonb_typeof(fields) = 'array'),
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (template_id, version)
);

CREATE FUNCTION form_template_versions_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'form template versions are append-only' USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER form_template_versions_append_only
    BEFORE UPDATE OR DELETE ON form_template_versions
    FOR EACH ROW EXECUTE FUNCTION form_template_versions_append_only();

CREATE TABLE form_instances (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    appointment_id uuid NOT NULL REFERENCES appointments (id) ON DELETE CASCADE,
    template_id uuid NOT NULL,
    template_version integer NOT NULL,
    phase varchar(20) NOT NULL CHECK (phase IN ('intake', 'post_appointment')),
    status varchar(16) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'submitted')),
    -- field key -> value (consent: {"agreed", "name", "signed_at"}); absent = unanswered
    answers jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(answers) = 'object'),
    submitted_at timestamptz,
    submitted_by_kind varchar(16) CHECK (submitted_by_kind IN ('patient', 'staff')),
    submitted_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (template_id, template_version) REFERENCES form_template_versions,
    -- Generation is idempotent: one instance per appointment and template.
    UNIQUE (appointment_id, template_id),
    CHECK ((status = 'submitted') = (submitted_at IS NOT NULL))
);
CREATE INDEX form_instances_template_idx ON form_instances (template_id);

-- calendars.required_form_ids: every id must be a live intake template (checked when the
-- calendar is written, with the templates locked so a concurrent archive cannot slip by)...
CREATE FUNCTION forms_check_calendar_forms() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_bad uuid;
BEGIN
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
CREATE TRIGGER calendars_required_forms_exist
    BEFORE INSERT OR UPDATE OF required_form_ids ON calendars
    FOR EACH ROW WHEN (cardinality(NEW.required_form_ids) > 0)
    EXECUTE FUNCTION forms_check_calendar_forms();

-- ...and a template a calendar requires is neither archived nor deleted.
CREATE FUNCTION forms_template_in_use() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
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
CREATE TRIGGER form_templates_in_use
    BEFORE DELETE OR UPDATE OF archived_at ON form_templates
    FOR EACH ROW EXECUTE FUNCTION forms_template_in_use();

-- The confirm guard (docs/lifecycle.md): names of the appointment's required intake forms
-- not yet submitted, in the calendar's order. Reads the appointment's copy of the ids, so it
-- holds even before the booked actor has generated the instances.
CREATE OR REPLACE FUNCTION intake_forms_missing(p_appointment uuid) RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(v.name ORDER BY r.ord), '{}')
    FROM appointments a
    CROSS JOIN LATERAL unnest(a.required_form_ids) WITH ORDINALITY AS r (template_id, ord)
    JOIN form_templates t ON t.id = r.template_id AND t.phase = 'intake'
    LEFT JOIN form_instances i ON i.appointment_id = a.id AND i.template_id = t.id
    JOIN form_template_versions v
      ON v.template_id = t.id AND v.version = coalesce(i.template_version, t.current_version)
    WHERE a.id = p_appointment AND i.status IS DISTINCT FROM 'submitted'
$$;

-- Instances of an appointment (idempotent): intake = the appointment's required forms,
-- post_appointment = every live post-appointment template of the clinic. Pins the current
-- version; returns how many were created.
CREATE FUNCTION generate_form_instances(p_appointment uuid, p_phase text) RETURNS integer
LANGUAGE sql AS $$
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
    SELECT count(*)::integer FROM ins
$$;
