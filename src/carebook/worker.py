"""An in-process Dramatiq worker, so `carebook run` alone gives a working demo."""

from __future__ import annotations

import atexit

import dramatiq


def start_embedded_worker(threads: int = 2) -> dramatiq.Worker:
    import carebook.actors  # noqa: F401 - declares every actor on the broker
    from carebook.broker import broker

    worker = dramatiq.Worker(broker, worker_threads=threads)
    worker.start()
    atexit.register(worker.stop, 10_000)  # a second stop() does nothing
    return worker
