"""Count the SECURITY.md rows that have tests named after them.

    python scripts/security_coverage.py [path/to/SECURITY.md]

A row ``PW-01`` is covered by any test function whose name contains ``pw01`` (tests carry
the row id, e.g. ``test_pw01_minimum_length``). Prints each row with its test count and a
summary; exits 0 (it reports, it does not judge).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT.parent / "shared" / "SECURITY.md"


def main(argv: list[str]) -> int:
    spec = Path(argv[0]) if argv else DEFAULT
    rows = re.findall(r"^\| ([A-Z]{2}-\d{2}) \|", spec.read_text(encoding="utf-8"), re.MULTILINE)
    names: list[str] = []
    for path in [*ROOT.glob("tests/**/*.py"), *ROOT.glob("packages/*/src/**/testing/**/*.py")]:
        names += re.findall(r"def (test_\w+)", path.read_text(encoding="utf-8"))
    covered = 0
    for row in rows:
        key = row.replace("-", "").lower()
        count = sum(1 for name in names if re.search(rf"_{key}(_|$)", name))
        covered += bool(count)
        print(f"{row}  {count:3d} {'' if count else '  <- no test yet'}")
    print(f"{covered}/{len(rows)} rows have at least one test")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
