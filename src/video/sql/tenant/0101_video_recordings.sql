-- Recordings of built-in calls, uploaded by the specialist's browser (MediaRecorder) only
-- while the clinic allows recording and the patient's latest decision is consent. The file
-- lives in the clinic's storage (a folder per clinic schema); this row says what and when.
CREATE TABLE video_recordings (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    appointment_id uuid NOT NULL REFERENCES appointments (id),
    storage_path text NOT NULL,
    content_type text NOT NULL,
    bytes bigint NOT NULL CHECK (bytes > 0),
    -- The consent row in force when the recording was accepted.
    consent_id bigint NOT NULL REFERENCES video_recording_consents (id),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX video_recordings_appt_idx ON video_recordings (appointment_id);
