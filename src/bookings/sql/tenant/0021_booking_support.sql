-- Idempotent bookings: one row per Idempotency-Key, written in the booking's own transaction.
-- The stored response never holds a clear secret: the manage token is sealed (see
-- bookings/idempotency.py) and only a retry that presents the same key and body can unseal it.
CREATE TABLE idempotency_keys (
    key text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 255),
    request_hash bytea NOT NULL,
    response json,  -- json, not jsonb: a replay returns the keys in their original order
    sealed_secret bytea,
    appointment_id uuid REFERENCES appointments (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);

-- The staff day view and the "fewest appointments that day" pick read by start instant.
CREATE INDEX appointments_starts_at_idx ON appointments (starts_at);
