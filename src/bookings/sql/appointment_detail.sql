-- One appointment for staff: the row, its patient, and what the caller may do next ($2: the
-- caller's actor kind; $3: their appointment scope, StaffPrincipal.appointment_scope: NULL for
-- the whole clinic, else only the appointments of the specialist linked to that staff user).
-- A hold is not an appointment yet, and a released or expired one never became one: not found.
-- The one definition: the staff API's detail and the staff app's appointment pages read it.
SELECT a.id, a.status, a.version, a.starts_at, a.ends_at, a.price_minor, a.currency, a.notes,
       a.answers, a.created_at, a.specialist_id, s.name AS specialist_name, s.staff_user AS specialist_user,
       c.id AS calendar_id, c.name AS calendar_name, c.slug AS calendar_slug, v.name AS service_name,
       p.id AS patient_id, p.name AS patient_name, p.email AS patient_email,
       p.phone AS patient_phone, p.timezone AS patient_timezone,
       allowed_actions(a.status, $2) AS allowed_actions
FROM appointments a
JOIN specialists s ON s.id = a.specialist_id
JOIN calendars c ON c.id = a.calendar_id
JOIN services v ON v.id = c.service_id
LEFT JOIN patients p ON p.id = a.patient_id
WHERE a.id = $1 AND a.status NOT IN ('held', 'released', 'expired')
  AND ($3::uuid IS NULL OR s.staff_user = $3)
