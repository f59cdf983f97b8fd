"""An in-process Dramatiq worker, so `carebook run` alone gives a working demo."""

from __future__ import annotations

import atexit

import dramatiq


def start_embedded_worker(threads: int = 2) -> dramatiq.Worker:
    import carebook.actors  # noqa: F401 - declares every actor on the broker
    from carebook.broker import broker

    worker = dramatiq.Worker(broker, worker_threads=threads)
    worker.start()
    atexit.register(stop_embedded_worker, worker)
    return worker


_stopped: set[int] = set()


def stop_embedded_worker(worker: dramatiq.Worker) -> None:
    """Stop the worker once: a second ``Worker.stop()`` emits ``after_worker_shutdown``
    again, and Dramatiq's AsyncIO middleware then fails on its already-stopped loop."""
    if id(worker) in _stopped:
        return
    _stopped.add(id(worker))
    worker.stop(timeout=10_000)
