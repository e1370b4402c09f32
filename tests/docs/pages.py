"""The Python blocks of the documentation pages, and a runner that executes one page's blocks.

A block runs in the namespace of the blocks above it on its page, so a block may continue
the one before it. A block preceded by ``<!-- doctest: skip (reason) -->`` is not run.
``"..."`` in a block stands for a secret and is replaced by a real one.

Run as ``python tests/docs/pages.py PAGE`` (in an empty working directory) to execute one page.
"""

from __future__ import annotations

import re
import secrets
import sys
import types
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
SKIP = re.compile(r"^<!-- doctest: skip \((?P<reason>[^)]+)\) -->$")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)\s*(?P<lang>[\w+-]*)")


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    source: str
    skip: str | None


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def blocks(page: Path) -> list[Block]:
    """The page's ```python blocks, in order, with the reason of a skip marker before one."""
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
            skip = SKIP.match(previous)
            found.append(Block(name, start + 1, "".join(body), skip["reason"] if skip else None))
        previous = ""
        index += 1
    return found


def run(page: Path) -> int:
    """Execute the page's blocks in order in one namespace; return how many ran."""
    module = types.ModuleType(f"docs_{page.stem.replace('-', '_')}")
    sys.modules[module.__name__] = module
    namespace = module.__dict__
    secret = repr(secrets.token_urlsafe(48))
    ran = 0
    for block in blocks(page):
        if block.skip is not None:
            continue
        code = block.source.replace('"..."', secret)
        padded = "\n" * block.line + code
        exec(compile(padded, str(page), "exec"), namespace)  # noqa: S102
        ran += 1
    return ran


if __name__ == "__main__":
    print(f"ran {run(Path(sys.argv[1]))} blocks")
