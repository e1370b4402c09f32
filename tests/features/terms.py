"""Both faces of the outside "terms" feature from its one async source.

An application with features of its own can do the same with ``scripts/unasync.py``
(or keep a generated file in its repository, as the core does).
"""

from __future__ import annotations

from importlib import resources
from types import ModuleType

from scripts.unasync import convert
from tests.features import _async_terms

AsyncTerms = _async_terms.AsyncTerms

_source = resources.files("tests.features").joinpath("_async_terms.py").read_text("utf-8")
_sync = ModuleType("tests.features._sync_terms")
exec(compile(convert(_source, set()), "tests/features/_sync_terms.py", "exec"), _sync.__dict__)
Terms = _sync.Terms

__all__ = ["AsyncTerms", "Terms"]
