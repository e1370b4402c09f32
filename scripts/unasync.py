"""Generate every ``_sync/`` tree from its ``_async/`` twin, or check that it is current.

    python scripts/unasync.py          # rewrite the generated files
    python scripts/unasync.py --check  # exit 1 if any generated file is stale (CI)

Each ``packages/*/src/**/_async/*.py`` becomes ``.../_sync/*.py`` through the ordered,
word-bounded substitutions below. A ``_sync`` file whose name is in ``HAND_WRITTEN`` is
the hand-written half of a primitive that cannot be generated and is left alone.
The script fails when a substitution is never used, so the table stays honest.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SUBSTITUTIONS: list[tuple[str, str]] = [
    (
        r"from sqlalchemy\.ext\.asyncio import AsyncEngine, async_sessionmaker",
        "from sqlalchemy import Engine\nfrom sqlalchemy.orm import sessionmaker",
    ),
    (
        r"from sqlalchemy\.ext\.asyncio import AsyncEngine, AsyncSession, async_sessionmaker",
        "from sqlalchemy import Engine\nfrom sqlalchemy.orm import Session, sessionmaker",
    ),
    (r"from sqlalchemy\.ext\.asyncio import AsyncEngine\n", "from sqlalchemy import Engine\n"),
    (
        (
            r"from sqlalchemy\.ext\.asyncio import AsyncConnection, AsyncEngine, AsyncSession, "
            r"async_sessionmaker"
        ),
        (
            "from sqlalchemy import Connection, Engine\n"
            "from sqlalchemy.orm import Session, sessionmaker"
        ),
    ),
    (
        r"from sqlalchemy\.ext\.asyncio import AsyncConnection, AsyncEngine\n",
        "from sqlalchemy import Connection, Engine\n",
    ),
    (r"\basynccontextmanager\b", "contextmanager"),
    (r"async def ", "def "),
    (r"\bawait ", ""),
    (r"async with ", "with "),
    (r"\basync for ", "for "),
    (r"\b_async\b", "_sync"),
    (r"\bAsync([A-Z]\w*)", r"\1"),
    (r"\basync_sessionmaker\b", "sessionmaker"),
    (r"\bpymongo\.asynchronous\b", "pymongo.synchronous"),
    (r"\bredis\.asyncio\b", "redis"),
    # the contract suites: async fixtures become plain ones, the asyncio mark goes away
    (r"(?m)^ *import pytest_asyncio\n", ""),
    (r"@pytest_asyncio\.fixture", "@pytest.fixture"),
    (r"(?m)^ *pytestmark = pytest\.mark\.asyncio\n", ""),
]
HAND_WRITTEN = frozenset({"_io.py", "_concurrency.py"})
HEADER = "# Generated from {source} by scripts/unasync.py. Do not edit: edit the source.\n"
_COMPILED = [(re.compile(pattern), repl) for pattern, repl in SUBSTITUTIONS]


def convert(text: str, used: set[str]) -> str:
    """Apply every substitution to ``text``; record which ones matched."""
    for (pattern, repl), (raw, _) in zip(_COMPILED, SUBSTITUTIONS, strict=True):
        text, count = pattern.subn(repl, text)
        if count:
            used.add(raw)
    return text


def pairs() -> list[tuple[Path, Path]]:
    """(source, generated) for every async module in the workspace."""
    result = []
    for source_dir in sorted(ROOT.glob("packages/*/src/**/_async")):
        target_dir = source_dir.with_name("_sync")
        for source in sorted(source_dir.glob("*.py")):
            if source.name in HAND_WRITTEN:
                continue
            result.append((source, target_dir / source.name))
    return result


def main(argv: list[str]) -> int:
    check = "--check" in argv
    used: set[str] = set()
    stale: list[Path] = []
    expected_files: set[Path] = set()
    for source, target in pairs():
        expected_files.add(target)
        body = convert(source.read_text(encoding="utf-8"), used)
        header = "" if source.name == "__init__.py" and not body.strip() else HEADER
        generated = header.format(source=source.relative_to(ROOT).as_posix()) + body
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current != generated:
            stale.append(target)
            if not check:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(generated, encoding="utf-8")
    orphans = [
        path
        for source_dir in ROOT.glob("packages/*/src/**/_async")
        for path in source_dir.with_name("_sync").glob("*.py")
        if path not in expected_files and path.name not in HAND_WRITTEN
    ]
    unused = [raw for raw, _ in SUBSTITUTIONS if raw not in used]
    if unused:
        print(f"unasync: substitutions never used, remove them: {unused}")
        return 1
    if orphans:
        print("unasync: generated files without a source: " + ", ".join(map(str, orphans)))
        return 1
    if check and stale:
        names = ", ".join(p.relative_to(ROOT).as_posix() for p in stale)
        print(f"unasync: stale generated files: {names}\nrun: python scripts/unasync.py")
        return 1
    if not check:
        for path in stale:
            print(f"unasync: wrote {path.relative_to(ROOT).as_posix()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
