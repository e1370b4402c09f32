"""Every Python block on every page of the documentation site runs: each page in a fresh
interpreter in an empty temporary folder, its blocks in order in one namespace, against the
real components the blocks name (SQLite files, the frameworks' test clients, the SMTP test
server). A block that cannot run here is marked ``<!-- doctest: skip (reason) -->`` on the
page and listed in ``SKIPPED`` below."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.pages import DOCS, blocks, pages

RUNNER = Path(__file__).with_name("pages.py")
ROOT = DOCS.parent
pytestmark = pytest.mark.e2e  # some pages run an SMTP server or an OIDC provider on 127.0.0.1

#: (page, reason) of every block that is not run
SKIPPED = {
    ("architecture.md", 'a module of a package "myapp" that ships the mail and page folders'),
    ("your-own-model.md", "runs inside an Alembic migration of your app, with its myapp.models"),
}

WITH_BLOCKS = [page for page in pages() if any(b.skip is None for b in blocks(page))]


@pytest.mark.parametrize("page", WITH_BLOCKS, ids=lambda page: page.relative_to(DOCS).as_posix())
def test_page_blocks_run(page: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, str(RUNNER), str(page)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    expected = sum(1 for block in blocks(page) if block.skip is None)
    assert f"ran {expected} blocks" in result.stdout


def test_skipped_blocks_are_listed_with_a_reason() -> None:
    skipped = {
        (block.page, block.skip) for page in pages() for block in blocks(page) if block.skip
    }
    print(f"{len(skipped)} skipped: " + "; ".join(f"{p}: {r}" for p, r in sorted(skipped)))
    assert skipped == SKIPPED


def test_every_page_is_parsed() -> None:
    """A python fence the parser did not see (a typo in its language) would go unrun."""
    total = sum(len(blocks(page)) for page in pages())
    fences = sum(
        line.strip().startswith(("```python", "```py")) for page in pages()
        for line in page.read_text("utf-8").splitlines()
    )
    assert total == fences
