-- Everything a message about one appointment says, and to whom.
SELECT a.id, a.status, a.starts_at, a.ends_at, a.version, a.updated_at, a.manage_token_hash,
       c.name AS service_name, c.video,
       sp.name AS specialist_name, sp.email AS specialist_email,
       sp.timezone AS specialist_timezone,
       p.id AS patient_id, p.name AS patient_name, p.email AS patient_email,
       p.phone AS patient_phone, p.timezone AS patient_timezone,
       pp.language AS patient_language
FROM appointments a
JOIN calendars c ON c.id = a.calendar_id
JOIN specialists sp ON sp.id = a.specialist_id
LEFT JOIN patients p ON p.id = a.patient_id
LEFT JOIN patient_preferences pp ON pp.email_key = lower(p.email)
WHERE a.id = $1
