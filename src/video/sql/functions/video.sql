-- Video (0100_video_rooms): one copy in schema public for every clinic, run on the caller's
-- search_path (docs/architecture.md, "Shared functions").

CREATE OR REPLACE FUNCTION video_recording_consents_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'video_recording_consents is append-only';
END $$;
