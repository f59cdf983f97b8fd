-- Book the hold $1 in one statement: find or create the patient, turn the hold into a
-- booking and record the idempotent response. Patients are matched by email,
-- case-insensitively; an existing patient is never rewritten by a public booking (someone
-- who only knows an email must not change a patient's details). If a concurrent booking
-- created the same patient after this statement's snapshot, patient_id comes back NULL and
-- nothing was changed: the caller looks the patient up and passes it as $9.
-- For a hold already swept to 'expired' the UPDATE re-enters the exclusion constraint,
-- which then decides whether the slot is still free (23P01 if not).
WITH created AS (
    INSERT INTO patients (email, name, phone, timezone)
    SELECT $2::text, $3::text, $4::text, $5::text
    WHERE $9::uuid IS NULL
    ON CONFLICT ((lower(email))) DO NOTHING
    RETURNING id
), patient AS (
    SELECT coalesce($9::uuid, (SELECT id FROM created),
                    (SELECT p.id FROM patients p WHERE lower(p.email) = lower($2::text))) AS id
), booked AS (
    UPDATE appointments a
    SET status = 'booked',
        patient_id = patient.id,
        price_minor = c.price_minor,
        currency = c.currency,
        duration_minutes = (extract(epoch FROM a.ends_at - a.starts_at) / 60)::integer,
        required_form_ids = c.required_form_ids,
        notes = $6::text,
        answers = $7::jsonb,
        manage_token_hash = $8::bytea,
        version = a.version + 1,
        updated_at = now()
    FROM patient, calendars c
    WHERE a.id = $1::uuid AND c.id = a.calendar_id AND patient.id IS NOT NULL
    RETURNING a.id
), stored AS (
    UPDATE idempotency_keys k
    SET response = $11::json, sealed_secret = $12::bytea, appointment_id = $1::uuid
    FROM patient
    WHERE k.key = $10::text AND patient.id IS NOT NULL
)
SELECT (SELECT id FROM patient) AS patient_id
