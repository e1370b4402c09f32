"""The cost of one rate-limiter hit, on demand; never part of the test suite.

    .venv/bin/python bench/limiters.py                  # about 20 s
    .venv/bin/python bench/limiters.py --n 5000 --redis redis://127.0.0.1:6379/0

Prints the median µs per ``hit`` of the in-memory limiter, the Redis limiter and the
SQLAlchemy limiter on a SQLite file, sync and async faces, measured in the same run, for
a hit that is counted (a new key each time, as a new client address is) and one that is
refused (a full key), with a Redis ``PING`` as the round-trip floor. Redis keys go under
a prefix of their own and are deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
import redis.asyncio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from doorward import AsyncMemoryRateLimiter, MemoryRateLimiter  # noqa: E402
from doorward.settings import RateLimit  # noqa: E402
from doorward.threaded import AsyncThreadedRateLimiter  # noqa: E402
from doorward_redis import AsyncRedisRateLimiter, RedisRateLimiter  # noqa: E402
from doorward_sqlalchemy import (  # noqa: E402
    AsyncSQLAlchemyRateLimiter,
    SQLAlchemyRateLimiter,
    async_sqlite_engine,
    sqlite_engine,
)
from doorward_sqlalchemy.models import Base  # noqa: E402

RULE = RateLimit(5, timedelta(minutes=5))
FULL = "login:203.0.113.7"


def now() -> datetime:
    return datetime.now(UTC)


def samples_of(fn: Callable[[int], object], start: int, n: int) -> list[float]:
    samples = []
    for i in range(start, start + n):
        began = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - began)
    return samples


async def async_samples_of(
    fn: Callable[[int], Awaitable[object]], start: int, n: int
) -> list[float]:
    samples = []
    for i in range(start, start + n):
        began = time.perf_counter()
        await fn(i)
        samples.append(time.perf_counter() - began)
    return samples


def measures(limiter, tag: str) -> dict[str, Callable[[int], object]]:
    """The counted hit (a new key each time) and the refused one (a full key)."""
    return {
        "counted": lambda i: limiter.hit(f"login:{tag}:{i}", RULE, now()),
        "refused": lambda i: limiter.hit(FULL, RULE, now()),
    }


def interleaved(
    cases: dict[str, dict[str, Callable[[int], object]]], n: int, rounds: int
) -> dict[str, dict[str, float]]:
    """Median µs of each measure; the measures take turns, ``rounds`` times, so that the
    noise of a shared machine falls on all of them alike."""
    samples: dict[tuple[str, str], list[float]] = {}
    per_round = max(n // rounds, 1)
    for round_ in range(-1, rounds):
        for name, case in cases.items():
            for measure, fn in case.items():
                taken = samples_of(fn, round_ * per_round, per_round)
                if round_ >= 0:
                    samples.setdefault((name, measure), []).extend(taken)
    return {
        name: {m: statistics.median(samples[name, m]) * 1e6 for m in case}
        for name, case in cases.items()
    }


async def async_interleaved(
    cases: dict[str, dict[str, Callable[[int], Awaitable[object]]]], n: int, rounds: int
) -> dict[str, dict[str, float]]:
    samples: dict[tuple[str, str], list[float]] = {}
    per_round = max(n // rounds, 1)
    for round_ in range(-1, rounds):
        for name, case in cases.items():
            for measure, fn in case.items():
                taken = await async_samples_of(fn, round_ * per_round, per_round)
                if round_ >= 0:
                    samples.setdefault((name, measure), []).extend(taken)
    return {
        name: {m: statistics.median(samples[name, m]) * 1e6 for m in case}
        for name, case in cases.items()
    }


def fill(limiter) -> None:
    for _ in range(RULE.limit):
        limiter.hit(FULL, RULE, now())


async def async_fill(limiter) -> None:
    for _ in range(RULE.limit):
        await limiter.hit(FULL, RULE, now())


def delete_prefix(client: redis.Redis, prefix: str) -> None:
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])


def run_sync(n: int, rounds: int, folder: Path, url: str, prefix: str):
    client = redis.Redis.from_url(url, socket_timeout=5)
    engine = sqlite_engine(f"sqlite:///{folder}/sync.sqlite3")
    Base.metadata.create_all(engine)
    limiters = {
        "memory": MemoryRateLimiter(),
        "redis": RedisRateLimiter(client, prefix=prefix),
        "sqlalchemy, SQLite": SQLAlchemyRateLimiter(engine),
    }
    for limiter in limiters.values():
        fill(limiter)
    cases = {
        name: measures(limiter, f"s{index}")
        for index, (name, limiter) in enumerate(limiters.items())
    }
    cases["redis PING (floor)"] = {"counted": lambda i: client.ping()}
    results = interleaved(cases, n, rounds)
    engine.dispose()
    client.close()
    return results


async def run_async(n: int, rounds: int, folder: Path, url: str, prefix: str):
    client = redis.asyncio.Redis.from_url(url, socket_timeout=5)
    engine = async_sqlite_engine(f"sqlite+aiosqlite:///{folder}/async.sqlite3")
    sync_engine = sqlite_engine(f"sqlite:///{folder}/async.sqlite3")
    Base.metadata.create_all(sync_engine)
    limiters = {
        "memory": AsyncMemoryRateLimiter(),
        "redis": AsyncRedisRateLimiter(client, prefix=prefix),
        "sqlalchemy, aiosqlite": AsyncSQLAlchemyRateLimiter(engine),
        "sqlalchemy, SQLite in a thread": AsyncThreadedRateLimiter(
            SQLAlchemyRateLimiter(sync_engine)
        ),
    }
    for limiter in limiters.values():
        await async_fill(limiter)
    cases = {
        name: measures(limiter, f"a{index}")
        for index, (name, limiter) in enumerate(limiters.items())
    }
    cases["redis PING (floor)"] = {"counted": lambda i: client.ping()}
    results = await async_interleaved(cases, n, rounds)
    await engine.dispose()
    sync_engine.dispose()
    await client.aclose()
    return results


def show(face: str, results: dict[str, dict[str, float]]) -> None:
    print(f"\n{face:<32} {'counted µs':>11} {'refused µs':>11}")
    for name, numbers in results.items():
        counted, refused = numbers["counted"], numbers.get("refused")
        print(f"  {name:<30} {counted:>11.1f} {'' if refused is None else f'{refused:.1f}':>11}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000, help="hits per measure")
    parser.add_argument("--rounds", type=int, default=10, help="turns the measures take")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="the Redis server")
    args = parser.parse_args()
    prefix = f"doorward-bench:{secrets.token_hex(4)}:"
    cleaner = redis.Redis.from_url(args.redis, socket_timeout=5)
    try:
        cleaner.ping()
    except redis.RedisError as exc:
        sys.exit(f"Redis is not reachable at {args.redis} ({exc!r}); run scripts/services")
    print(
        f"median of {args.n} hits each, in {args.rounds} interleaved rounds; "
        f"limit {RULE.limit} per {RULE.window}"
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            show("sync", run_sync(args.n, args.rounds, folder, args.redis, prefix))
            show("async", asyncio.run(run_async(args.n, args.rounds, folder, args.redis, prefix)))
    finally:
        delete_prefix(cleaner, prefix)
        cleaner.close()


if __name__ == "__main__":
    main()
