"""The core imports and runs a whole flow with no web framework or database driver."""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import importlib.abc, sys

    BLOCKED = ("flask", "werkzeug", "starlette", "fastapi", "sqlalchemy", "pymongo", "bson", "jinja2")

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"blocked: {name}")
            return None

    sys.meta_path.insert(0, Block())
    import doorward
    from doorward import Auth, MemoryStore, Settings, Argon2Params
    from doorward._sync.mailers import Outbox

    outbox = Outbox()
    auth = Auth(
        Settings(secret_keys="s" * 40, base_url="https://x.example", argon2=Argon2Params.insecure_for_tests()),
        MemoryStore(),
        mailer=outbox,
    )
    auth.register("a@example.com", "a long enough passphrase")
    token = outbox.messages[-1].text.split("/confirm/")[1].split()[0]
    auth.confirm_email(token)
    user, issued = auth.login("a@example.com", "a long enough passphrase")
    assert auth.authenticate(session_token=issued.token).user_id == str(user.id)
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    assert not leaked, leaked
    print("core-alone-ok")
    """
)


def test_core_runs_without_frameworks_or_drivers():
    """With every framework and driver import blocked, doorward registers, confirms and logs in."""
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=False, timeout=60
    )
    assert "core-alone-ok" in result.stdout, result.stderr


def test_generated_sync_code_is_current():
    """Every _sync/ module matches what scripts/unasync.py generates from its _async/ twin."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "unasync.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout
