-- The hold being booked, locked, with what the booking copies from its calendar.
SELECT a.id, a.calendar_id, a.specialist_id, a.starts_at, a.ends_at, a.status,
       a.hold_token_hash, a.hold_expires_at <= now() AS lapsed,
       c.name AS calendar_name, c.slug AS calendar_slug, c.price_minor, c.currency,
       c.required_form_ids, s.name AS specialist_name, s.buffer_minutes
FROM appointments a
JOIN calendars c ON c.id = a.calendar_id
JOIN specialists s ON s.id = a.specialist_id
WHERE a.id = $1
FOR UPDATE OF a
