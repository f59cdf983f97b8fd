-- Claim an Idempotency-Key for this transaction (true), or find it taken (NULL): a
-- concurrent claim of the same key waits here until that transaction ends. Keys older than
-- 24 hours are purged a few at a time on the way, so no per-clinic job is needed.
WITH claimed AS (
    INSERT INTO idempotency_keys (key, request_hash) VALUES ($1::text, $2::bytea)
    ON CONFLICT (key) DO NOTHING
    RETURNING true AS ok
), purged AS (
    DELETE FROM idempotency_keys
    WHERE key IN (SELECT key FROM idempotency_keys
                  WHERE created_at < now() - interval '24 hours'
                  ORDER BY created_at LIMIT 20)
)
SELECT ok FROM claimed
