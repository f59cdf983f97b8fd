-- Idempotency keys older than 24 hours, oldest first, a bounded batch per clinic and sweep
-- round (= ANY (ARRAY(…)) keeps it a primary-key probe whatever the table's size). Runs with
-- search_path = clinic, public.
DELETE FROM idempotency_keys
WHERE key = ANY (ARRAY(SELECT k.key FROM idempotency_keys k
                       WHERE k.created_at < now() - interval '24 hours'
                       ORDER BY k.created_at LIMIT 500))
