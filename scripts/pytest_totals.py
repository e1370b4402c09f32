"""Add up the closing lines of several pytest runs (scripts/test runs two side by side).

python scripts/pytest_totals.py MAIN_LOG E2E_LOG   # "tests: N passed, N failed, N skipped"
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

COUNTED = ("passed", "failed", "errors", "skipped")


def totals(logs: list[str]) -> dict[str, int]:
    """The counts of each run's last ``=== ... in Ns ===`` line, summed."""
    found = dict.fromkeys(COUNTED, 0)
    for log in logs:
        closing = [line for line in log.splitlines() if re.match(r"^=+ .* in [\d.]+s", line)]
        if not closing:
            found["errors"] += 1
            continue
        for count, word in re.findall(r"(\d+) (passed|failed|errors?|skipped)", closing[-1]):
            found["errors" if word.startswith("error") else word] += int(count)
    return found


def main() -> None:
    found = totals([Path(name).read_text(errors="replace") for name in sys.argv[1:]])
    failed = found["failed"] + found["errors"]
    print(f"tests: {found['passed']} passed, {failed} failed, {found['skipped']} skipped")


if __name__ == "__main__":
    main()
