-- What a patient holding the manage link may see of one appointment.
SELECT a.id, a.status, a.starts_at, a.ends_at, a.price_minor, a.currency, a.duration_minutes,
       a.manage_token_hash, a.version, a.created_at, a.updated_at,
       c.id AS calendar_id, c.name AS calendar_name, c.slug AS calendar_slug, c.video,
       sp.id AS specialist_id, sp.name AS specialist_name,
       p.id AS patient_id, p.name AS patient_name, p.timezone AS patient_timezone
FROM appointments a
JOIN calendars c ON c.id = a.calendar_id
JOIN specialists sp ON sp.id = a.specialist_id
LEFT JOIN patients p ON p.id = a.patient_id
WHERE a.id = $1 AND a.manage_token_hash IS NOT NULL
