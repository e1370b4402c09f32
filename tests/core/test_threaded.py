"""``AsyncThreadedStore``'s own worker threads (``doorward.threaded``): results and errors
reach the awaiting task, calls run in parallel and never on the event loop, a cancelled
call leaves the workers working, sequential calls start no more threads, a forked
child starts threads of its own, and an explicit executor is still used."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from doorward.exceptions import EmailTaken
from doorward.threaded import AsyncThreadedStore


class Probe:
    """A sync "store" whose methods tell where and how they ran."""

    def __init__(self) -> None:
        self.threads: list[int] = []
        self.barrier = threading.Barrier(4, timeout=10)
        self.release = threading.Event()

    def echo(self, value: Any) -> Any:
        self.threads.append(threading.get_ident())
        return value

    def taken(self) -> None:
        raise EmailTaken

    def stop(self) -> None:
        raise StopIteration

    def meet(self) -> int:
        return self.barrier.wait()

    def wait_for_release(self) -> bool:
        return self.release.wait(timeout=10)


def test_results_and_errors_reach_the_caller():
    store: Any = AsyncThreadedStore(Probe())

    async def run() -> None:
        assert await store.echo({"a": 1}) == {"a": 1}
        with pytest.raises(EmailTaken):
            await store.taken()
        with pytest.raises(RuntimeError, match="StopIteration"):
            await store.stop()
        assert await store.echo(2) == 2
        assert store.calls == 4

    asyncio.run(run())


def test_calls_run_in_parallel_and_off_the_loop():
    """Four calls meet at a barrier (they must all be in the store at once), and a call
    that waits for the loop to act does not stop the loop."""
    probe = Probe()
    store: Any = AsyncThreadedStore(probe)

    async def run() -> None:
        arrived = await asyncio.gather(*(store.meet() for _ in range(4)))
        assert sorted(arrived) == [0, 1, 2, 3]
        waiting = asyncio.ensure_future(store.wait_for_release())
        await asyncio.sleep(0.05)
        probe.release.set()  # the loop runs while the call blocks its thread
        assert await waiting is True

    asyncio.run(run())


def test_a_cancelled_call_leaves_the_workers_working():
    probe = Probe()
    store: Any = AsyncThreadedStore(probe)

    async def run() -> None:
        waiting = asyncio.ensure_future(store.wait_for_release())
        await asyncio.sleep(0.05)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        probe.release.set()
        await asyncio.sleep(0.05)  # its answer comes back to a cancelled future: ignored
        assert await store.echo("after") == "after"

    asyncio.run(run())


def _store_threads() -> int:
    return sum(t.name.startswith("doorward-store_") for t in threading.enumerate())


def test_sequential_calls_start_no_more_threads():
    """Each answer is handed back after its thread is marked idle, so the next call finds
    an idle thread rather than starting another: one call at a time never grows the pool."""
    probe = Probe()
    store: Any = AsyncThreadedStore(probe)

    async def run() -> None:
        await store.echo(-1)
        before = _store_threads()
        for number in range(200):
            assert await store.echo(number) == number
        assert _store_threads() == before

    asyncio.run(run())


def _child() -> None:
    store: Any = AsyncThreadedStore(Probe())
    raise SystemExit(0 if asyncio.run(store.echo(7)) == 7 else 3)


def test_a_forked_child_starts_its_own_threads():
    store: Any = AsyncThreadedStore(Probe())
    asyncio.run(store.echo(1))  # the parent's threads exist (and are idle) before the fork
    child = multiprocessing.get_context("fork").Process(target=_child)
    child.start()
    child.join(timeout=20)
    if child.is_alive():
        child.kill()
        pytest.fail("the forked child's store call never finished")
    assert child.exitcode == 0


def test_an_explicit_executor_is_used():
    class Counting(ThreadPoolExecutor):
        submitted = 0

        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            self.submitted += 1
            return super().submit(fn, *args, **kwargs)

    executor = Counting(max_workers=1)
    store: Any = AsyncThreadedStore(Probe(), executor)
    assert asyncio.run(store.echo("x")) == "x"
    assert executor.submitted == 1
    executor.shutdown()


_EXITING = """
import asyncio, sys, time
from pathlib import Path
from doorward.threaded import AsyncThreadedStore

class Slow:
    def write(self, path):
        time.sleep(0.5)
        Path(path).write_text("done")

async def main():
    store = AsyncThreadedStore(Slow())
    asyncio.ensure_future(store.write(sys.argv[1]))
    await asyncio.sleep(0.05)  # the call is running when the loop ends

asyncio.run(main())
"""


def test_a_call_running_at_exit_finishes(tmp_path):
    """The threads are daemons (they never hold the interpreter open), but at exit a
    running call is waited for, as an executor's threads are joined: a write ends."""
    import subprocess
    import sys

    marker = tmp_path / "written"
    subprocess.run([sys.executable, "-c", _EXITING, str(marker)], check=True, timeout=30)
    assert marker.read_text() == "done"
