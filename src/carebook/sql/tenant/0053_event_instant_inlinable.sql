-- event_instant() of 0023_publish_event, declared STABLE instead of IMMUTABLE (issue 18).
--
-- Its body calls to_char(), which PostgreSQL marks STABLE; an IMMUTABLE SQL function whose
-- body is not immutable is never inlined, so every call ran as a separate SQL function
-- (parsed and planned again in each statement: ~0.3 ms, twice per slot event). Declared
-- STABLE it is inlined into its callers' plans. Same text out; it is not used in an index.
ALTER FUNCTION event_instant(timestamptz) STABLE;
