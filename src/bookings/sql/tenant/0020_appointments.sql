-- Patients and appointments (holds are appointments in status 'held').
CREATE TABLE patients (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email text NOT NULL CHECK (position('@' in email) > 1),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    phone text,
    timezone text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX patients_email_key ON patients (lower(email));

CREATE TABLE appointments (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    calendar_id uuid NOT NULL REFERENCES calendars (id),
    specialist_id uuid NOT NULL REFERENCES specialists (id),
    patient_id uuid REFERENCES patients (id),
    status varchar(16) NOT NULL CHECK (status IN (
        'held', 'booked', 'upcoming', 'confirmed', 'in_progress', 'done',
        'cancelled', 'no_show', 'released', 'expired')),
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    -- [start, end + specialist buffer): what this appointment keeps others out of.
    blocking tstzrange NOT NULL,
    hold_expires_at timestamptz,
    hold_token_hash bytea,
    session_key text,
    manage_token_hash bytea,
    price_minor bigint,
    currency char(3),
    duration_minutes integer,
    required_form_ids uuid[] NOT NULL DEFAULT '{}',
    notes text,
    answers jsonb,
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (starts_at < ends_at),
    CHECK (lower(blocking) = starts_at AND upper(blocking) >= ends_at),
    CHECK (status <> 'held' OR (hold_expires_at IS NOT NULL AND hold_token_hash IS NOT NULL)),
    -- The final arbiter of "no double booking": a specialist's blocking ranges never overlap.
    -- A constraint cannot see now(): expired holds are moved to 'expired' by the hold path
    -- (same transaction, before inserting) and by the sweeper.
    CONSTRAINT appointments_no_overlap EXCLUDE USING gist (specialist_id WITH =, blocking WITH &&)
        WHERE (status IN ('held', 'booked', 'upcoming', 'confirmed', 'in_progress', 'done'))
);
CREATE INDEX appointments_calendar_start_idx ON appointments (calendar_id, starts_at);
CREATE INDEX appointments_specialist_start_idx ON appointments (specialist_id, starts_at);
CREATE INDEX appointments_patient_idx ON appointments (patient_id);
CREATE INDEX appointments_hold_expiry_idx ON appointments (hold_expires_at) WHERE status = 'held';
CREATE UNIQUE INDEX appointments_session_hold_key ON appointments (session_key)
    WHERE status = 'held' AND session_key IS NOT NULL;

-- What blocks a specialist at instant p_now: every blocking status, holds only unexpired.
-- The availability engine reads appointments through this function only.
CREATE FUNCTION blocking_ranges(p_specialists uuid[], p_window tstzrange, p_now timestamptz)
RETURNS TABLE (specialist_id uuid, blocking tstzrange)
LANGUAGE sql STABLE AS $$
    SELECT a.specialist_id, a.blocking
    FROM appointments a
    WHERE a.specialist_id = ANY (p_specialists)
      AND a.blocking && p_window
      AND a.status IN ('held', 'booked', 'upcoming', 'confirmed', 'in_progress', 'done')
      AND (a.status <> 'held' OR a.hold_expires_at > p_now)
$$;
