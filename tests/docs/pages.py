"""The Python blocks of the documentation pages, and a runner that executes one page's blocks.

A block runs in the namespace of the blocks above it on its page, so a block may continue
the one before it. ``"..."`` in a block stands for a secret and is replaced by a real one.
A comment on the line before a block's fence changes what happens to it:

- ``<!-- doctest: skip (reason) -->``: it is not run (the test lists every such block);
- ``<!-- doctest: file NAME -->``: it is a file of the example, written to ``NAME`` in the
  working directory (which is on ``sys.path``) instead of run; a file named ``test_*.py``
  is then run by pytest, which must pass.

Run as ``python tests/docs/pages.py PAGE`` in an empty working directory to execute a page.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
MARKER = re.compile(r"^<!-- doctest: (?:skip \((?P<reason>[^)]+)\)|file (?P<file>[\w.]+)) -->$")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)\s*(?P<lang>[\w+-]*)")


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    source: str
    skip: str | None = None
    file: str | None = None


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def blocks(page: Path) -> list[Block]:
    """The page's Python blocks in order, each with the marker on the line before it."""
    name = page.relative_to(DOCS).as_posix()
    found: list[Block] = []
    lines = page.read_text("utf-8").splitlines(keepends=True)
    previous = ""
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            if lines[index].strip():
                previous = lines[index].strip()
            index += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        start = index
        body: list[str] = []
        index += 1
        while index < len(lines) and not lines[index].strip().startswith(fence):
            body.append(lines[index].removeprefix(indent))
            index += 1
        if opening["lang"] in {"python", "py"}:
            marker = MARKER.match(previous)
            found.append(
                Block(
                    name,
                    start + 1,
                    "".join(body),
                    skip=marker["reason"] if marker else None,
                    file=marker["file"] if marker else None,
                )
            )
        previous = ""
        index += 1
    return found


def run(page: Path) -> int:
    """Execute the page's blocks in order in one namespace; return how many ran."""
    module = types.ModuleType(f"docs_{page.stem.replace('-', '_')}")
    sys.modules[module.__name__] = module
    sys.path.insert(0, str(Path.cwd()))
    secret = repr(secrets.token_urlsafe(48))
    ran = 0
    for block in blocks(page):
        if block.skip is not None:
            continue
        code = block.source.replace('"..."', secret)
        if block.file is not None:
            Path(block.file).write_text(code, "utf-8")
            if block.file.startswith("test_"):
                suite = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
                env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
                subprocess.run([*suite, block.file], check=True, env=env)
        else:
            exec(compile("\n" * block.line + code, str(page), "exec"), module.__dict__)
        ran += 1
    return ran


if __name__ == "__main__":
    print(f"ran {run(Path(sys.argv[1]))} blocks")
