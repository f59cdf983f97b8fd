-- Webhooks: one copy in schema public for every clinic, run on the caller's search_path
-- (docs/architecture.md, "Shared functions").

-- The condition of the webhooks actor in public.lifecycle_effects: the clinic has an active
-- endpoint (which events each endpoint takes is the actor's business). PL/pgSQL: it runs in
-- every transition's transaction, and its plan is kept.
CREATE OR REPLACE FUNCTION webhooks_effect_wanted(p_appointment uuid, p_event text)
RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM webhook_endpoints WHERE active);
END
$$;
