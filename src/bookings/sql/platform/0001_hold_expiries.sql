-- Platform-wide hint of when each clinic's holds expire, written in the hold's transaction.
-- The sweeper reads only this small table (indexed by expiry) instead of polling 1,000
-- clinic schemas; rows are claimed with FOR UPDATE SKIP LOCKED so processes never fight.
-- A hint is only a pointer: the clinic's appointments row stays the truth.
CREATE TABLE IF NOT EXISTS public.hold_expiries (
    schema_name varchar(63) NOT NULL,
    appointment_id uuid NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (schema_name, appointment_id)
);
CREATE INDEX IF NOT EXISTS hold_expiries_due_idx ON public.hold_expiries (expires_at);
