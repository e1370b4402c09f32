"""The core's ``doorward`` console script manages a Starlette app's users, roles and tokens
(the commands of ``flask doorward``), run as a real process against a SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long enough passphrase for the cli"


@pytest.fixture
def doorward(tmp_path):
    script = Path(sys.executable).with_name("doorward")
    assert script.exists(), "the core's console script is installed with the package"
    env = {
        **os.environ,
        "CLI_TEST_DB": f"sqlite:///{tmp_path}/cli.sqlite3",
        "DOORWARD_APP": "tests.cli.app_for_cli:doorward",
        "PYTHONPATH": str(ROOT),
    }

    def run(*args, check=True):
        done = subprocess.run(
            [script, *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=60,
            check=False,
        )
        if check:
            assert done.returncode == 0, done.stdout + done.stderr
        return done

    return run


def test_console_script_users_roles_tokens(doorward, tmp_path):
    """Create, role, list, deactivate, import, refuse a short password, delete."""
    assert (
        "created ann@example.com"
        in doorward(
            "users", "create", "ann@example.com", "--password", PASSWORD, "--confirmed"
        ).stdout
    )
    assert "saved role admin" in doorward("roles", "create", "admin", "--permission", "all").stdout
    doorward("roles", "add", "ann@example.com", "admin")
    assert "admin\tall" in doorward("roles", "list").stdout
    assert (
        "deactivated ann@example.com" in doorward("users", "deactivate", "ann@example.com").stdout
    )
    short = doorward("users", "set-password", "ann@example.com", "--password", "short", check=False)
    assert short.returncode == 1
    assert "characters" in short.stderr
    export = tmp_path / "users.jsonl"
    export.write_text(json.dumps({"email": "bob@example.com", "confirmed": True}) + "\n")
    assert "imported 1 users" in doorward("users", "import", str(export)).stdout
    missing = doorward("users", "delete", "nobody@example.com", check=False)
    assert missing.returncode != 0
    assert "deleted ann@example.com" in doorward("users", "delete", "ann@example.com").stdout


def test_console_script_reset_mfa(doorward):
    """``doorward users reset-mfa EMAIL`` answers how many factors it removed."""
    doorward("users", "create", "mfa@example.com", "--password", "correct horse battery staple")
    done = doorward("users", "reset-mfa", "mfa@example.com")
    assert "removed 0 second factors of mfa@example.com" in done.stdout
    missing = doorward("users", "reset-mfa", "nobody@example.com", check=False)
    assert missing.returncode != 0
