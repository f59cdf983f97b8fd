-- Every message the clinic sends, one row per (appointment, event, recipient, channel):
-- the row is the "done" record that makes a retried or duplicated job send only once.
CREATE TABLE notification_log (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    dedup_key text NOT NULL UNIQUE CHECK (length(dedup_key) BETWEEN 1 AND 500),
    appointment_id uuid REFERENCES appointments (id) ON DELETE SET NULL,
    event text NOT NULL,
    recipient text NOT NULL,
    recipient_kind varchar(16) NOT NULL
        CHECK (recipient_kind IN ('patient', 'specialist', 'clinic')),
    channel varchar(16) NOT NULL CHECK (channel IN ('email', 'sms', 'webhook')),
    transport varchar(16) NOT NULL,  -- smtp | outbox | twilio | http
    template text NOT NULL,
    language varchar(16) NOT NULL,
    status varchar(16) NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'sent', 'failed', 'bounced')),
    attempts integer NOT NULL DEFAULT 0,
    provider_id text,
    error text,
    job_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz
);
CREATE INDEX notification_log_appointment_idx ON notification_log (appointment_id);
CREATE INDEX notification_log_created_idx ON notification_log (created_at DESC);

-- The local outbox: where messages go when no SMTP server / SMS provider is configured (the
-- embedded default). Staff read it through the API; nothing is silently dropped.
CREATE TABLE outbox_messages (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    log_id uuid NOT NULL REFERENCES notification_log (id) ON DELETE CASCADE,
    channel varchar(16) NOT NULL,
    recipient text NOT NULL,
    subject text,
    body_text text NOT NULL,
    body_html text,
    attachments jsonb NOT NULL DEFAULT '[]',  -- [{filename, content_type, content (text)}]
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_messages_created_idx ON outbox_messages (created_at DESC);

-- A patient's own choices about messages (language now), by e-mail address: recorded when
-- the booking request arrives, before the patient record exists. Kept here, not in bookings'
-- patients table: the notifications domain owns what it decides by.
CREATE TABLE patient_preferences (
    email_key text PRIMARY KEY CHECK (email_key = lower(email_key) AND length(email_key) <= 254),
    language varchar(16) NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Magic sign-in links: one row per request, known e-mail or not (both answer alike). The
-- link's secret is an HMAC of the row id under the server's key (notifications/magic.py):
-- nothing secret is stored. Single use (used_at), short-lived (expires_at).
CREATE TABLE magic_links (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email_key text NOT NULL CHECK (length(email_key) <= 254),
    patient_id uuid REFERENCES patients (id) ON DELETE CASCADE,
    language varchar(16) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);
CREATE INDEX magic_links_email_idx ON magic_links (email_key, created_at);
