-- Video (0100_video_rooms): one copy in schema public for every clinic, run on the caller's
-- search_path (docs/architecture.md, "Shared functions").

CREATE OR REPLACE FUNCTION video_recording_consents_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'video_recording_consents is append-only';
END $$;

-- The condition of the video actors in public.lifecycle_effects: an appointment of a video
-- calendar, or one that has a room (its calendar stopped being a video calendar since).
-- PL/pgSQL: it runs in every transition's transaction, and its plan is kept.
CREATE OR REPLACE FUNCTION video_effect_wanted(p_appointment uuid, p_event text)
RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM appointments a JOIN calendars c ON c.id = a.calendar_id
                   WHERE a.id = p_appointment AND c.video)
        OR EXISTS (SELECT 1 FROM video_rooms r WHERE r.appointment_id = p_appointment);
END
$$;
