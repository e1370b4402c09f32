"""Blocking work from the sync face: just call it (hand-written pair of ``_async/_io.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_IS_SYNC = True


def run_blocking(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Call ``fn`` in this thread: the sync face has no event loop to protect."""
    return fn(*args, **kwargs)
