"""CPU work off the event loop: the one way every route of every service predicts.

An ``async`` endpoint that calls a model directly holds the event loop for as long as
the model runs; under load ``/health`` then waits behind predictions and the container
is restarted (the probe saw 21 s). :func:`run_blocking` runs a callable on the
service's own bounded pool of threads (``prediction_threads``), so the loop keeps
answering; its size bounds how many predictions run at once, the rest wait their turn.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
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
