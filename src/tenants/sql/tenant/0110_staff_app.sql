-- Staff web app (issue 15): the receptionist role, sign-in lockout, one-time password
-- links, the staff mail outbox (until notifications land) and the access audit.
ALTER TABLE staff_users DROP CONSTRAINT staff_users_role_check;
ALTER TABLE staff_users ADD CONSTRAINT staff_users_role_check
    CHECK (role IN ('admin', 'receptionist', 'specialist'));
-- Added without a default, then defaulted and filled: the one-statement form
-- (NOT NULL DEFAULT 0) reads all of pg_index, costly with thousands of clinic schemas.
ALTER TABLE staff_users
    ADD COLUMN failed_logins integer,
    ADD COLUMN locked_until timestamptz;
ALTER TABLE staff_users ALTER COLUMN failed_logins SET DEFAULT 0;
UPDATE staff_users SET failed_logins = 0;
ALTER TABLE staff_users ALTER COLUMN failed_logins SET NOT NULL;

-- One-time links that let a staff member choose a password (invitation or reset).
-- Only the token's SHA-256 digest is stored; a link works once and until it expires.
CREATE TABLE staff_password_links (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    staff_user uuid NOT NULL REFERENCES staff_users (id) ON DELETE CASCADE,
    purpose varchar(16) NOT NULL CHECK (purpose IN ('invite', 'reset')),
    token_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);
CREATE INDEX staff_password_links_user_idx ON staff_password_links (staff_user);

-- Messages to staff (invitations, resets) when no mail transport is configured: the
-- notifications domain will deliver these; until then they are read here (and printed).
CREATE TABLE staff_mail_outbox (
    id bigserial PRIMARY KEY,
    to_email text NOT NULL,
    subject text NOT NULL,
    body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Who saw or changed which patient's data, when and from where. Append-only.
CREATE TABLE audit_events (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    staff_user uuid,
    staff_role varchar(16) NOT NULL,
    action varchar(16) NOT NULL CHECK (action IN ('view', 'change')),
    subject varchar(32) NOT NULL,
    subject_id uuid,
    patient_id uuid,
    detail text NOT NULL DEFAULT '',
    client_addr text
);
CREATE INDEX audit_events_patient_idx ON audit_events (patient_id, at);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END $$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
