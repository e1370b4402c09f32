"""One worker process of the multi-process race: ``python _hammer.py URL PREFIX THREADS HITS``.

Each thread opens its own client, the process prints ``ready`` and waits for a line on
stdin, then every thread hits the shared key ``HITS`` times at one frozen moment; the
process prints how many of its hits passed.
"""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime, timedelta

import redis

from doorward.settings import RateLimit
from doorward_redis import RedisRateLimiter

KEY = "login:203.0.113.7"
NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def main(url: str, prefix: str, threads: int, hits: int, limit: int) -> None:
    rule = RateLimit(limit, timedelta(minutes=5))
    clients = [redis.Redis.from_url(url, socket_timeout=10) for _ in range(threads)]
    for client in clients:
        client.ping()
    limiters = [RedisRateLimiter(client, prefix=prefix) for client in clients]
    barrier = threading.Barrier(threads)
    passed = [0] * threads

    def run(index: int) -> None:
        barrier.wait(30)
        for _ in range(hits):
            if limiters[index].hit(KEY, rule, NOW) is None:
                passed[index] += 1

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    print("ready", flush=True)
    sys.stdin.readline()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for client in clients:
        client.close()
    print(sum(passed), flush=True)


if __name__ == "__main__":
    url, prefix, threads, hits, limit = sys.argv[1:6]
    main(url, prefix, int(threads), int(hits), int(limit))
