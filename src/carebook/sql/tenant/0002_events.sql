-- Live-update outbox: written in the same transaction as the change it describes.
-- Ids increase in commit order per clinic (writers serialise on an advisory lock, see
-- carebook/events/outbox.py), so "everything after id N" is a safe replay cursor.
CREATE TABLE events (
    id bigserial PRIMARY KEY,
    type text NOT NULL,
    specialist_id uuid,
    data jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_created_at_idx ON events (created_at);

-- NOTIFY is delivered at commit only, and carries just "<schema>:<id>".
CREATE FUNCTION notify_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('carebook_events', TG_TABLE_SCHEMA || ':' || NEW.id);
    RETURN NULL;
END
$$;
CREATE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION notify_event();
