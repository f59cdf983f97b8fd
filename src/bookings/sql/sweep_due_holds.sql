-- Claim this clinic's due expiry hints (skipping those another process holds), expire the
-- holds that are still 'held', and drop the hints. Runs with search_path = clinic, public.
WITH claimed AS (
    DELETE FROM public.hold_expiries h
    WHERE (h.schema_name, h.appointment_id) IN (
        SELECT d.schema_name, d.appointment_id
        FROM public.hold_expiries d
        WHERE d.schema_name = current_schema()::text COLLATE "default" AND d.expires_at <= now()
        ORDER BY d.expires_at
        LIMIT 500
        FOR UPDATE SKIP LOCKED)
    RETURNING h.appointment_id
)
UPDATE appointments a
SET status = 'expired', updated_at = now()
FROM claimed
WHERE a.id = claimed.appointment_id
  AND a.status = 'held'
  AND a.hold_expires_at <= now()
RETURNING a.id, a.calendar_id, a.specialist_id, a.starts_at, a.ends_at
