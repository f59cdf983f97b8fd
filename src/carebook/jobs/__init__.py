"""Durable side effects (issue 11): the job outbox, its relay to Dramatiq, the scheduler,
idempotent actors and dead letters. See docs/lifecycle.md."""
