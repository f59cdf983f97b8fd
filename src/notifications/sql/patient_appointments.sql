-- One patient's appointments at this clinic (booked or later; not holds), upcoming soonest first, then past.
SELECT a.id, a.status, a.starts_at, a.ends_at, a.manage_token_hash,
       c.name AS service_name, sp.name AS specialist_name, p.timezone AS patient_timezone
FROM appointments a
JOIN calendars c ON c.id = a.calendar_id
JOIN specialists sp ON sp.id = a.specialist_id
JOIN patients p ON p.id = a.patient_id
WHERE a.patient_id = $1
  AND a.status NOT IN ('held', 'released', 'expired')
  AND a.manage_token_hash IS NOT NULL
ORDER BY a.starts_at < now(), -- upcoming first (soonest first), then past (latest first)
         CASE WHEN a.starts_at >= now() THEN a.starts_at END, a.starts_at DESC
LIMIT 200
