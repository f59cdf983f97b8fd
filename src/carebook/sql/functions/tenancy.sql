-- Clinic-schema functions live once, in schema public, and resolve the clinic's tables through
-- the search_path of the transaction (docs/architecture.md, "Shared functions"). An entry point
-- called without a tenant transaction takes the clinic's schema as its first argument, has
-- the constant clause SET search_path = public, and calls this first: set_config(…, true)
-- without a SET clause of its own acts at the caller's level, so the clinic's search_path
-- lasts until the entry point returns, and the SET clause restores the caller's then.
-- A trigger that reads or writes tables does the same with TG_TABLE_SCHEMA.
CREATE OR REPLACE FUNCTION enter_clinic_schema(p_schema text) RETURNS void
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
    PERFORM set_config('search_path', quote_ident(p_schema) || ', public', true);
    -- current_schema() is the first schema of the path that exists: a clinic's, or nothing
    -- fit to write to.
    IF p_schema = 'public' OR current_schema() IS DISTINCT FROM p_schema THEN
        RAISE EXCEPTION 'no clinic schema %', p_schema USING ERRCODE = 'invalid_schema_name';
    END IF;
END
$fn$;
