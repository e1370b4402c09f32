"""The argon2id hasher: parameters, exact verification, caps, and the bound on work in flight."""

import asyncio
import base64
import os
import sys
import threading
import time

import argon2
import pytest

from doorward.exceptions import Overloaded
from doorward.hashing import HASH_THREAD_NICENESS, Argon2Hasher, AsyncArgon2Hasher
from doorward.settings import Argon2Params, Settings

FAST = Argon2Params.insecure_for_tests()


class Spy:
    """Stands in for argon2's PasswordHasher and records which hashes it was asked to verify."""

    def __init__(self, real):
        self.real = real
        self.verified = []

    def verify(self, stored, password):
        self.verified.append(stored)
        return self.real.verify(stored, password)

    def hash(self, password):
        return self.real.hash(password)


def test_pw06_default_parameters_meet_the_floors():
    """Defaults are argon2id with m >= 19 MiB, t >= 2, p >= 1 and a 16-byte salt, in PHC form."""
    params = Settings(secret_keys="k" * 40, base_url="https://x.org").argon2
    hasher = argon2.PasswordHasher(
        time_cost=params.time_cost, memory_cost=params.memory_cost, parallelism=params.parallelism
    )
    stored = Argon2Hasher(params)._hasher.hash("x")
    parsed = argon2.extract_parameters(stored)
    assert parsed.type == argon2.Type.ID
    assert parsed.memory_cost >= 19456
    assert parsed.time_cost >= 2
    assert parsed.parallelism >= 1
    salt_b64 = stored.split("$")[4]
    assert len(base64.b64decode(salt_b64 + "=" * (-len(salt_b64) % 4))) == 16
    assert hasher.check_needs_rehash(stored) is False


def test_pw05_exact_verification():
    """A 100-character password does not verify with its 72-character prefix or another case."""
    hasher = Argon2Hasher(FAST)
    password = "Ab1-" * 25
    stored = hasher.hash(password)
    assert hasher.verify(stored, password)
    assert not hasher.verify(stored, password[:72])
    assert not hasher.verify(stored, password.swapcase())
    assert not hasher.verify(stored, password + " ")


def test_pw07_needs_rehash_for_other_parameters():
    """A hash with other parameters, weaker or stronger, is flagged for rehashing."""
    hasher = Argon2Hasher(FAST)
    weaker = argon2.PasswordHasher(time_cost=1, memory_cost=32, parallelism=1).hash("pw")
    stronger = argon2.PasswordHasher(time_cost=2, memory_cost=128, parallelism=1).hash("pw")
    assert hasher.needs_rehash(weaker)
    assert hasher.needs_rehash(stronger)
    assert not hasher.needs_rehash(hasher.hash("pw"))
    assert hasher.needs_rehash("not a hash")


def test_pw08_stored_parameters_capped_before_verify():
    """A stored hash asking for 4 GiB is refused; argon2 never sees it."""
    hasher = Argon2Hasher(FAST)
    spy = hasher._hasher = Spy(hasher._hasher)
    seen = spy.verified
    huge = "$argon2id$v=19$m=4194304,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaA"
    hasher.verify(None, "prime the dummy")
    assert not hasher.verify(huge, "pw")
    assert huge not in seen
    assert not hasher.acceptable(huge)
    assert not hasher.acceptable("$argon2id$v=19$m=65536,t=99,p=4$c2FsdHNhbHQ$aGFzaGhhc2g")


def test_le02_verify_without_hash_still_computes_once():
    """Verifying against no hash (unknown user) runs exactly one argon2 computation."""
    hasher = Argon2Hasher(FAST)
    hasher.verify(None, "prime the dummy")
    calls = hasher._hasher = Spy(hasher._hasher)
    calls = calls.verified
    assert not hasher.verify(None, "pw")
    assert not hasher.verify("garbage", "pw")
    assert len(calls) == 2


def test_cc06_in_flight_hashes_bounded_and_excess_shed():
    """With 2 slots and 2 waiting places, 12 concurrent hashes run at most 2 at a time; extra are shed."""
    hasher = Argon2Hasher(
        Argon2Params(time_cost=1, memory_cost=8192, parallelism=1), max_concurrent=2, max_waiting=2
    )
    barrier = threading.Barrier(12)
    outcomes = []

    def work():
        barrier.wait()
        try:
            hasher.hash("concurrent password")
            outcomes.append("ok")
        except Overloaded:
            outcomes.append("shed")

    threads = [threading.Thread(target=work) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert hasher.peak_running <= 2
    assert "shed" in outcomes
    assert outcomes.count("ok") >= 2
    assert hasher._admitted == 0


@pytest.mark.asyncio
async def test_cc06_async_hashing_runs_off_the_event_loop():
    """While 8 hashes run, a ticker task on the loop keeps ticking and hashes ran in worker threads."""
    inner = Argon2Hasher(
        Argon2Params(time_cost=2, memory_cost=16384, parallelism=1),
        max_concurrent=2,
        max_waiting=16,
    )
    hasher = AsyncArgon2Hasher(inner)
    threads = set()
    real = inner._hash_now

    def spy(password):
        threads.add(threading.current_thread().name)
        return real(password)

    inner._hash_now = spy  # type: ignore[method-assign]
    ticks = 0
    done = asyncio.Event()

    async def ticker():
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.001)

    task = asyncio.create_task(ticker())
    start = time.perf_counter()
    await asyncio.gather(*(hasher.hash(f"pw {i}") for i in range(8)))
    elapsed = time.perf_counter() - start
    done.set()
    await task
    assert all(name.startswith("doorward-argon2") for name in threads)
    assert inner.peak_running <= 2
    assert ticks >= 3, (ticks, elapsed)


@pytest.mark.asyncio
async def test_cc06_async_excess_is_refused_at_once():
    """Beyond running plus waiting places, an async hash fails with Overloaded without queueing."""
    inner = Argon2Hasher(FAST, max_concurrent=1, max_waiting=0)
    hasher = AsyncArgon2Hasher(inner)
    gate = threading.Event()
    real = inner._hash_now

    def slow(password):
        gate.wait(5)
        return real(password)

    inner._hash_now = slow  # type: ignore[method-assign]
    first = asyncio.ensure_future(hasher.hash("one"))
    await asyncio.sleep(0.01)
    with pytest.raises(Overloaded):
        await hasher.hash("two")
    gate.set()
    assert (await first).startswith("$argon2id$")
    assert inner._admitted == 0


@pytest.mark.asyncio
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread priorities are Linux's")
async def test_cc06_hashing_threads_yield_the_cpu_to_the_event_loop():
    """The threads that hash run niced, so argon2's lanes never outrank the event loop."""
    hasher = AsyncArgon2Hasher(Argon2Hasher(FAST))
    await hasher.hash("a long enough passphrase")

    def priority() -> tuple[str, int]:
        return threading.current_thread().name, os.getpriority(
            os.PRIO_PROCESS, threading.get_native_id()
        )

    name, niceness = await asyncio.get_running_loop().run_in_executor(
        hasher._executor,
        priority,
    )
    loop_niceness = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert name.startswith("doorward-argon2")
    assert niceness == min(19, loop_niceness + HASH_THREAD_NICENESS)
    assert niceness > loop_niceness
