"""``scripts/demo --oidc`` as a newcomer runs it: the two example apps and a local OpenID
Connect test provider as real processes; sign in with the provider on the Flask app, and
the Starlette app knows the same person (issue 15)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


def test_demo_signs_in_with_the_local_provider_across_both_apps(tmp_path):
    """Sign in with the test provider on Flask; Starlette then sees the same person."""
    flask_port, starlette_port, oidc_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "DOORWARD_DEMO_DIR": str(tmp_path / "demo"),
        "DOORWARD_DEMO_FLASK_PORT": str(flask_port),
        "DOORWARD_DEMO_STARLETTE_PORT": str(starlette_port),
        "DOORWARD_DEMO_OIDC_PORT": str(oidc_port),
    }
    demo = subprocess.Popen(
        [str(ROOT / "scripts" / "demo"), "--oidc"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    flask = f"http://127.0.0.1:{flask_port}"
    starlette = f"http://127.0.0.1:{starlette_port}"
    provider = f"http://127.0.0.1:{oidc_port}"
    try:
        for url in (f"{flask}/auth/login", f"{starlette}/auth/login", f"{provider}/"):
            wait_for(url)
        answer = httpx.put(
            f"{provider}/users/sub-ann", json={"email": "ann@example.com", "email_verified": True}
        )
        assert answer.status_code == 204
        with httpx.Client(follow_redirects=False) as browser:
            assert "the test provider" in browser.get(f"{flask}/auth/login").text
            start = browser.get(f"{flask}/auth/oauth/oidc/login", headers={"Accept": "text/html"})
            assert start.status_code == 303
            approved = browser.post(start.headers["location"], data={"sub": "sub-ann"})
            assert approved.status_code == 302
            back = browser.get(approved.headers["location"])
            assert back.status_code == 303, back.text
            flask_me = browser.get(f"{flask}/api/whoami").json()
            starlette_me = browser.get(f"{starlette}/api/whoami").json()
        assert flask_me["email"] == starlette_me["email"] == "ann@example.com"
        assert (flask_me["framework"], starlette_me["framework"]) == ("flask", "starlette")
    finally:
        os.killpg(demo.pid, signal.SIGINT)
        try:
            demo.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
