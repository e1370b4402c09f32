"""Runs the HTTP contract against every adapter that is installed."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from doorward.clock import FrozenClock
from doorward.settings import Argon2Params, Settings

ADAPTERS = [
    name
    for name, module in (("flask", "doorward_flask"), ("starlette", "doorward_starlette"))
    if importlib.util.find_spec(module) is not None
]

SECRET = "http-contract-secret-key-0123456789abcdef"


def contract_settings(**overrides: object) -> Settings:
    """Settings of the contract runs: a canonical base URL that differs from the test host."""
    values: dict[str, object] = {
        "secret_keys": SECRET,
        "base_url": "https://auth.example.com",
        "argon2": Argon2Params.insecure_for_tests(),
        "max_concurrent_hashes": 4,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(
    params=ADAPTERS
    or [pytest.param("none", marks=pytest.mark.skip(reason="no adapter installed yet"))]
)
def adapter(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def site_factory(adapter: str):
    module = importlib.import_module(f"tests.http.site_{adapter}")

    def make(**overrides: object):
        clock = FrozenClock(datetime(2030, 1, 1, tzinfo=UTC))
        return module.make_site(contract_settings(**overrides), clock)

    return make


@pytest.fixture
def site(site_factory) -> Iterator[object]:
    made = site_factory()
    try:
        yield made
    finally:
        made.client.close()
