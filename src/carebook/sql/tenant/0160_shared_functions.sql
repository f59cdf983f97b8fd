-- One shared copy of every clinic-schema function (issues 16 and 11; docs/architecture.md,
-- "Shared functions"). The functions now live once in schema public (<domain>/sql/functions,
-- created by migrate before any tenant migration); this clinic's triggers are pointed at them
-- and its own copies dropped. Until now PostgreSQL resolved any of these names through a list
-- of every same-named function of every clinic, built per backend and thrown away at any
-- pg_proc change: thousands of clinics made a fresh backend's first call cost seconds.
--
-- The earlier migrations still create the per-clinic copies (a new clinic creates them, then
-- drops them here); squashing them is future work.

-- Same timing, events and WHEN clauses as the migrations that created them (0002, 0031,
-- 0080, 0090, 0100, 0110).
CREATE OR REPLACE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION public.notify_event();

CREATE OR REPLACE TRIGGER appointment_history_append_only
    BEFORE UPDATE OR DELETE ON appointment_history
    FOR EACH ROW EXECUTE FUNCTION public.refuse_history_change();
CREATE OR REPLACE TRIGGER appointment_history_no_truncate
    BEFORE TRUNCATE ON appointment_history
    FOR EACH STATEMENT EXECUTE FUNCTION public.refuse_history_change();

CREATE OR REPLACE TRIGGER form_template_versions_append_only
    BEFORE UPDATE OR DELETE ON form_template_versions
    FOR EACH ROW EXECUTE FUNCTION public.form_template_versions_append_only();
CREATE OR REPLACE TRIGGER calendars_required_forms_exist
    BEFORE INSERT OR UPDATE OF required_form_ids ON calendars
    FOR EACH ROW WHEN (cardinality(NEW.required_form_ids) > 0)
    EXECUTE FUNCTION public.forms_check_calendar_forms();
CREATE OR REPLACE TRIGGER form_templates_in_use
    BEFORE DELETE OR UPDATE OF archived_at ON form_templates
    FOR EACH ROW EXECUTE FUNCTION public.forms_template_in_use();

CREATE OR REPLACE TRIGGER stats_daily_monthly AFTER INSERT OR UPDATE OR DELETE ON stats_daily
    FOR EACH ROW EXECUTE FUNCTION public.stats_daily_to_monthly();
CREATE OR REPLACE TRIGGER appointments_stats_insert AFTER INSERT ON appointments
    FOR EACH ROW WHEN (NEW.status NOT IN ('held', 'released', 'expired'))
    EXECUTE FUNCTION public.stats_on_appointment();
CREATE OR REPLACE TRIGGER appointments_stats_update
    AFTER UPDATE OF status, starts_at, ends_at, calendar_id, specialist_id ON appointments
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                       OR OLD.starts_at IS DISTINCT FROM NEW.starts_at
                       OR OLD.ends_at IS DISTINCT FROM NEW.ends_at
                       OR OLD.calendar_id IS DISTINCT FROM NEW.calendar_id
                       OR OLD.specialist_id IS DISTINCT FROM NEW.specialist_id)
    EXECUTE FUNCTION public.stats_on_appointment();
CREATE OR REPLACE TRIGGER reviews_stats AFTER INSERT ON reviews
    FOR EACH ROW EXECUTE FUNCTION public.stats_on_review();
CREATE OR REPLACE TRIGGER stats_offered_monthly
    AFTER INSERT OR UPDATE OR DELETE ON stats_offered
    FOR EACH ROW EXECUTE FUNCTION public.stats_offered_to_monthly();
CREATE OR REPLACE TRIGGER events_stats_forget_offered AFTER INSERT ON events
    FOR EACH ROW WHEN (NEW.type = 'availability.changed')
    EXECUTE FUNCTION public.stats_forget_offered();

CREATE OR REPLACE TRIGGER video_recording_consents_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON video_recording_consents
    FOR EACH STATEMENT EXECUTE FUNCTION public.video_recording_consents_append_only();

CREATE OR REPLACE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION public.audit_events_append_only();
CREATE OR REPLACE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION public.audit_events_append_only();

-- Drop: every function this schema owns, in one DROP statement (every name is looked up
-- before anything is dropped). No CASCADE: anything still depending on a clinic copy fails
-- the migration loudly. (migrate applies this file to many existing clinics at once, in
-- batches: carebook/migrations.py, apply_shared_functions_migration_in_batches; the line
-- above is its marker.)
DO $$
DECLARE
    v_list text;
BEGIN
    SELECT string_agg(format('%I.%I(%s)', n.nspname, p.proname,
                             pg_get_function_identity_arguments(p.oid)), ', ')
    INTO v_list
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE p.pronamespace = current_schema()::regnamespace;
    IF v_list IS NOT NULL THEN
        EXECUTE 'DROP FUNCTION ' || v_list;
    END IF;
END
$$;
