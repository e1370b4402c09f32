"""The timing of neutral answers (LE-07, issue 16 finding 5), on demand; never a test.

    .venv/bin/python bench/timing.py            # about 20 s

Serves the Flask adapter on a real werkzeug server on 127.0.0.1 (SQLite file, the
default queued SMTP mailer delivering to aiosmtpd on loopback) and times
``POST /auth/reset`` and ``POST /auth/confirm`` for addresses with an account and without
one, interleaved, each address asked once (so no per-address limit is reached). Prints the
medians and their difference; before the fix of LE-07 the gap was 0.7-1.3 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from doorward import Argon2Params, RateLimit, Settings  # noqa: E402 (after the path set-up)
from doorward._sync.mailers import mailer_from_url  # noqa: E402
from doorward.testing.smtp import SmtpServer  # noqa: E402
from doorward_flask import Doorward  # noqa: E402
from doorward_sqlalchemy import SQLAlchemyStore, default_models, sqlite_engine  # noqa: E402
from doorward_sqlalchemy.models import Base  # noqa: E402

PASSWORD = "correct horse battery staple"
PLENTY = RateLimit(100_000, timedelta(hours=1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=30, help="addresses of each kind per path")
    parser.add_argument("--seed", type=int, default=1, help="of the order within each pair")
    parser.add_argument(
        "--hold", type=float, default=None, help="the queued mailer's hold (default: its own)"
    )
    parser.add_argument(
        "--pause", type=float, default=0.1, help="seconds between requests, as a prober would"
    )
    args = parser.parse_args()
    with SmtpServer() as smtp, tempfile.TemporaryDirectory() as folder:
        engine = sqlite_engine(f"sqlite:///{folder}/timing.sqlite3")
        Base.metadata.create_all(engine)
        app = Flask(__name__)
        settings = Settings(
            secret_keys="timing-bench-secret-key-0123456789abcdef",
            base_url="http://127.0.0.1",
            insecure_development=True,
            argon2=Argon2Params.insecure_for_tests(),
            rate_limits=dict.fromkeys(
                ("forgot_password", "send_confirmation", "mail_per_address"), PLENTY
            ),
        )
        mailer = mailer_from_url(f"smtp://127.0.0.1:{smtp.port}?from=a@example.com")
        if args.hold is not None:
            mailer.hold = args.hold  # type: ignore[attr-defined]  # the QueuedMailer's
        Doorward(
            app, store=SQLAlchemyStore(engine, default_models()), settings=settings, mailer=mailer
        )
        auth = app.extensions["doorward"].auth
        for i in range(args.n):
            auth.create_user(f"reset{i}@example.com", PASSWORD, confirmed=True)
            auth.create_user(f"confirm{i}@example.com", PASSWORD, confirmed=False)
        random.seed(args.seed)
        WSGIRequestHandler.log_request = lambda *a, **k: None  # type: ignore[method-assign]
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        with httpx.Client(base_url=base) as http:
            token = http.get("/auth/csrf", headers={"Accept": "application/json"}).json()
            headers = {"X-CSRF-Token": token["csrf_token"], "Accept": "application/json"}
            for path, known in (("/auth/reset", "reset"), ("/auth/confirm", "confirm")):
                samples: dict[str, list[float]] = {"account": [], "none": []}
                for i in range(args.n):
                    pair = [
                        ("account", f"{known}{i}@example.com"),
                        ("none", f"nobody-{known}{i}@example.com"),
                    ]
                    random.shuffle(pair)  # neither kind always follows the other's delivery
                    for kind, email in pair:
                        time.sleep(args.pause)
                        began = time.perf_counter()
                        answer = http.post(path, json={"email": email}, headers=headers)
                        samples[kind].append(time.perf_counter() - began)
                        assert answer.status_code == 202, answer.text
                with_account = statistics.median(samples["account"]) * 1e3
                without = statistics.median(samples["none"]) * 1e3
                print(
                    f"POST {path:14} median of {args.n}: account {with_account:.3f} ms, "
                    f"no account {without:.3f} ms, gap {with_account - without:+.3f} ms"
                )
        server.shutdown()
        mailer.close()


if __name__ == "__main__":
    main()
