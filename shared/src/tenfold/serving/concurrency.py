"""CPU work off the event loop: the one way every route of every service predicts.

An ``async`` endpoint that calls a model directly holds the event loop for as long as
the model runs; under load ``/health`` then waits behind predictions and the container
is restarted (the probe saw 21 s). :func:`run_blocking` runs a callable on the
service's own bounded pool of threads (``prediction_threads``), so the loop keeps
answering; its size bounds how many predictions run at once, the rest wait their turn.

The one exception is measured, not declared: :class:`InlineWhenFast` lets a route run a
call on the loop itself while its recent calls took less than a budget (1 ms by
default). Handing a sub-millisecond prediction to a thread and back costs more than the
prediction (churn's compiled path: 0.26 ms of its 1.03 ms at p50), and holding the loop
for less than the budget delays ``/health`` by no more than that; a call that turns out
slower moves the route back to the threads. On the threads a call is measured by its CPU
time (what it would hold the loop for), so a model that waits on I/O instead of
computing looks fast there: such a service sets ``inline_below_ms=0``.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

# The executor of the service answering the current request (set per request by the
# service's middleware); outside a request, the event loop's default executor.
_EXECUTOR: contextvars.ContextVar[ThreadPoolExecutor | None] = contextvars.ContextVar(
    "tenfold_executor", default=None
)


def prediction_executor(threads: int) -> ThreadPoolExecutor:
    """The pool of one service (created by ``create_app``, shut down with the app)."""
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="tenfold-predict")


async def run_blocking(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``await run_blocking(predictor.predict, items)``: run ``fn`` on the service's
    prediction threads and return its result (its exception is raised here).

    A dedicated executor rather than the shared anyio pool: predictions never queue
    behind other blocking work, and the pool's size is the service's own setting.
    """
    loop = asyncio.get_running_loop()
    call = functools.partial(fn, *args, **kwargs) if kwargs else functools.partial(fn, *args)
    return await loop.run_in_executor(_EXECUTOR.get(), call)


def use_executor(
    executor: ThreadPoolExecutor | None,
) -> contextvars.Token[ThreadPoolExecutor | None]:
    return _EXECUTOR.set(executor)


def reset_executor(token: contextvars.Token[ThreadPoolExecutor | None]) -> None:
    _EXECUTOR.reset(token)


class InlineWhenFast:
    """Where a route's calls run: on the loop while the moving average of their duration
    (inline and threaded calls alike) is under ``budget_seconds``, on the prediction
    threads otherwise. It starts on the threads: nothing runs on the loop before it has
    been measured. ``budget_seconds=0`` keeps every call on the threads."""

    def __init__(self, budget_seconds: float, *, weight: float = 0.2) -> None:
        self.budget = budget_seconds
        self.weight = weight
        self.average: float | None = None

    def observe(self, seconds: float) -> None:
        self.average = (
            seconds
            if self.average is None
            else self.average + self.weight * (seconds - self.average)
        )

    @property
    def inline(self) -> bool:
        return self.average is not None and self.average < self.budget

    async def run(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        inline = self.inline
        # On the loop, wall time: how long the loop was held, waits on I/O included. On a
        # thread, the thread's CPU time: there the call also waits for the GIL, which the
        # loop holds while it serves other requests; under load that wait made a 0.3 ms
        # model measure over 1 ms, so it never came back to the loop and paid the thread
        # hand-over on every request.
        clock = time.perf_counter if inline else time.thread_time

        def timed() -> R:
            started = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                self.observe(clock() - started)

        return timed() if inline else await run_blocking(timed)
