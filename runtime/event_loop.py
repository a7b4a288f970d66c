"""The event loop the service runs on: uvloop where it is installed (uvicorn's `standard`
extra brings it, except on Windows), else asyncio's own.

uvicorn picks uvloop by itself only when it creates the loop (`uvicorn.run`); `personas serve`
starts the database and the models on its own loop before serving, so it chooses here. uvloop
costs each request less CPU, which the embedding model shares on a small machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on uvloop when it is available."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def loop_name() -> str:
    """The running loop's kind, for the start-up log: `uvloop` or `asyncio`."""
    return "uvloop" if type(asyncio.get_running_loop()).__module__.startswith("uvloop") else "asyncio"
