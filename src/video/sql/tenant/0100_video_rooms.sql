-- Video rooms: at most one per appointment, named deterministically from the appointment id
-- so a retried "create" finds the room it already made (at the provider and here).
CREATE TABLE video_rooms (
    appointment_id uuid PRIMARY KEY REFERENCES appointments (id),
    provider text NOT NULL CHECK (provider IN ('builtin', 'daily')),
    room_name text NOT NULL UNIQUE,
    room_url text,
    -- The join window: [opens_at, closes_at) = [start - 15 min, end + grace).
    opens_at timestamptz NOT NULL,
    closes_at timestamptz NOT NULL,
    recording boolean NOT NULL DEFAULT false,
    -- creating: claimed, provider call in flight; ready: usable; active: the call started;
    -- deleted: cancelled/no-show (or deleted while being created); expired: swept after closes_at.
    status text NOT NULL DEFAULT 'creating'
        CHECK (status IN ('creating', 'ready', 'active', 'deleted', 'expired')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    activated_at timestamptz,
    deleted_at timestamptz,
    CHECK (opens_at < closes_at)
);
CREATE INDEX video_rooms_live_closes_idx ON video_rooms (closes_at)
    WHERE status IN ('creating', 'ready', 'active');

-- Recording consent, append-only: every decision the patient makes, with the wording shown.
-- The current decision is the latest row; no row means no consent.
CREATE TABLE video_recording_consents (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    appointment_id uuid NOT NULL REFERENCES appointments (id),
    decision text NOT NULL CHECK (decision IN ('given', 'revoked')),
    wording text NOT NULL CHECK (length(wording) BETWEEN 1 AND 2000),
    source text NOT NULL CHECK (source IN ('manage', 'join')),
    at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX video_recording_consents_appt_idx ON video_recording_consents (appointment_id, id);

CREATE FUNCTION video_recording_consents_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'video_recording_consents is append-only';
END $$;
CREATE TRIGGER video_recording_consents_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON video_recording_consents
    FOR EACH STATEMENT EXECUTE FUNCTION video_recording_consents_append_only();
