-- Retention watermark of the events outbox (issue 6).
-- Pruning deletes a prefix of ids (everything below the oldest event still inside the
-- retention window) and records the highest id it deleted. A client that last saw id N has
-- missed nothing iff N >= pruned_through, so the SSE "resync" decision is exact even though
-- rolled-back transactions leave gaps in the id sequence.
CREATE TABLE events_pruned (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    pruned_through bigint NOT NULL DEFAULT 0,
    pruned_at timestamptz
);
INSERT INTO events_pruned DEFAULT VALUES;
