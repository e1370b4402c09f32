"""The documentation site builds with ``mkdocs build --strict``: no page outside the nav, no
broken link or anchor, no API reference that mkdocstrings cannot resolve, and no warning
of any other kind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_site_builds_strict_without_warnings(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "NO_COLOR": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    log = result.stdout + result.stderr
    warnings = [line for line in log.splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert result.returncode == 0, log
    assert not warnings, "\n".join(warnings)
    built = tmp_path / "site"
    assert (built / "index.html").is_file()
    assert (built / "recipes" / "custom-store" / "index.html").is_file()
    reference = (built / "api" / "core" / "index.html").read_text("utf-8")
    assert 'id="doorward.Settings"' in reference
    assert 'id="doorward.AsyncAuth"' in reference
