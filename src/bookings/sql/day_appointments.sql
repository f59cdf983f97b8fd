-- A clinic's appointments starting on one local day [$1, $2), optionally of one specialist
-- and of the given statuses, with the patient (staff may see patient data). $5: the caller's
-- appointment scope (StaffPrincipal.appointment_scope): NULL for the whole clinic, else only
-- the appointments of the specialist linked to that staff user.
SELECT a.id, a.status, a.starts_at, a.ends_at, a.hold_expires_at, a.price_minor, a.currency,
       s.id AS specialist_id, s.name AS specialist_name,
       c.id AS calendar_id, c.name AS calendar_name, c.slug AS calendar_slug,
       p.id AS patient_id, p.name AS patient_name, p.email AS patient_email,
       p.phone AS patient_phone
FROM appointments a
JOIN specialists s ON s.id = a.specialist_id
JOIN calendars c ON c.id = a.calendar_id
LEFT JOIN patients p ON p.id = a.patient_id
WHERE a.starts_at >= $1 AND a.starts_at < $2
  AND ($3::uuid IS NULL OR a.specialist_id = $3)
  AND a.status = ANY ($4::text[])
  AND ($5::uuid IS NULL OR s.staff_user = $5)
  AND (a.status <> 'held' OR a.hold_expires_at > now())
ORDER BY a.starts_at, s.name, a.id
