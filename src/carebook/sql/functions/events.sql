-- Live-update events of a clinic (docs/architecture.md, "Shared functions"): one copy in
-- schema public for every clinic; each runs on its caller's search_path (clinic, public).

-- NOTIFY is delivered at commit only, and carries just "<schema>:<id>".
CREATE OR REPLACE FUNCTION notify_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('carebook_events', TG_TABLE_SCHEMA || ':' || NEW.id);
    RETURN NULL;
END
$$;

-- publish_event(): append a live-update event in the caller's transaction, in one call.
--
-- Takes the clinic's event advisory lock (class 0x0CA8E = 51854, key: the schema) before the
-- id is drawn, held until commit, so ids of one clinic become visible in increasing order
-- (see carebook/events/outbox.py, which calls this function and validates type and keys).
-- Call it with the clinic's schema first on the search_path (a tenant transaction, or an
-- entry point or trigger that put it there): it has no SET clause of its own, which would
-- cost a configuration change on every call.
CREATE OR REPLACE FUNCTION publish_event(p_type text, p_specialist uuid, p_data jsonb) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    v_id bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(51854, hashtext(current_schema()));
    INSERT INTO events (type, specialist_id, data) VALUES (p_type, p_specialist, p_data)
    RETURNING id INTO v_id;
    RETURN v_id;
END
$fn$;

-- An instant as events carry it: UTC, ISO 8601, '+00:00', microseconds only when non-zero
-- (the text Python's datetime.astimezone(UTC).isoformat() gives).
-- STABLE, not IMMUTABLE: to_char() is STABLE, and an IMMUTABLE SQL function whose body is not
-- is never inlined (0053_event_instant_inlinable).
CREATE OR REPLACE FUNCTION event_instant(p_at timestamptz) RETURNS text
LANGUAGE sql STABLE AS $fn$
    SELECT to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
        || CASE WHEN extract(microseconds FROM p_at)::bigint % 1000000 <> 0
                THEN to_char(p_at AT TIME ZONE 'UTC', '.US') ELSE '' END
        || '+00:00'
$fn$;

-- The newest committed event id of the clinic (the pruned watermark when the table is empty):
-- where a new live-update feed starts reading, and the version of everything the clinic's
-- events describe (a cached slots document is current while this has not moved). Not the
-- sequence: it also counts ids of transactions still open.
-- PL/pgSQL: as a SQL function (sub-selects, never inlined) it was planned on every call, and
-- every request served from kept slots days asks it (slot_pieces_state()).
CREATE OR REPLACE FUNCTION clinic_event_head() RETURNS bigint
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    RETURN greatest((SELECT coalesce(max(id), 0) FROM events),
                    (SELECT coalesce(max(pruned_through), 0) FROM events_pruned));
END
$fn$;

-- The clinic's events after p_since, newest first, at most p_limit of them. When there are
-- more, or retention has deleted some, one more row with type NULL stands for every event up
-- to its id: "something changed up to here" (kept slots pieces read it as a change of
-- everything; calendars/slots_cache.py).
CREATE OR REPLACE FUNCTION clinic_events_since(p_since bigint, p_limit integer)
RETURNS TABLE (id bigint, type text, specialist_id uuid, data jsonb)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    v_gap bigint;
BEGIN
    RETURN QUERY
    SELECT e.id, e.type, e.specialist_id, e.data
    FROM events e WHERE e.id > p_since ORDER BY e.id DESC LIMIT p_limit;
    v_gap := greatest(
        (SELECT e.id FROM events e WHERE e.id > p_since ORDER BY e.id DESC
         OFFSET p_limit LIMIT 1),
        (SELECT max(p.pruned_through) FROM events_pruned p WHERE p.pruned_through > p_since));
    IF v_gap IS NOT NULL THEN
        id := v_gap;
        type := NULL;
        specialist_id := NULL;
        data := NULL;
        RETURN NEXT;
    END IF;
END
$fn$;

-- Retention (carebook/events/retention.py): delete the clinic's events older than p_age and
-- record the highest id deleted. Deletes a *prefix* of ids — everything below the first event
-- still inside the window — so events_pruned.pruned_through stays an exact "was anything
-- missed?" test. A clinic with nothing to delete costs one index probe. An entry point: the
-- pruner calls it for a batch of clinics in one statement, one round trip per batch.
CREATE OR REPLACE FUNCTION prune_events_in(p_schema text, p_age interval) RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = public AS $fn$
DECLARE
    v_cutoff timestamptz := now() - p_age;
    v_oldest timestamptz;
    v_keep_from bigint;
    v_count bigint;
    v_top bigint;
BEGIN
    PERFORM enter_clinic_schema(p_schema);
    SELECT created_at INTO v_oldest FROM events ORDER BY id LIMIT 1;
    IF v_oldest IS NULL OR v_oldest >= v_cutoff THEN
        RETURN 0;  -- empty, or its first event is inside the window: no prefix to delete
    END IF;
    -- Walks the primary key from the start: the cost follows what is deleted, not what is kept.
    SELECT id INTO v_keep_from FROM events WHERE created_at >= v_cutoff ORDER BY id LIMIT 1;
    WITH d AS (DELETE FROM events WHERE v_keep_from IS NULL OR id < v_keep_from RETURNING id)
    SELECT count(*), max(id) INTO v_count, v_top FROM d;
    IF v_count > 0 THEN
        UPDATE events_pruned
        SET pruned_through = greatest(pruned_through, v_top), pruned_at = now();
    END IF;
    RETURN v_count;
END
$fn$;
