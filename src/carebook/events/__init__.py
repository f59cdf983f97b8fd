"""Live updates: the events outbox, the per-process LISTEN fan-out, and SSE."""
