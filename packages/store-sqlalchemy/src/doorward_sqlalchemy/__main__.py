"""``python -m doorward_sqlalchemy adopt URL MODULE:MODELS [--apply]`` (see ``adopt``)."""

from __future__ import annotations

import argparse
import importlib
import sys

from sqlalchemy import create_engine

from doorward_sqlalchemy.adopt import adopt, plan_sql
from doorward_sqlalchemy.models import Models


def _models(path: str) -> Models:
    module, _, name = path.partition(":")
    found = getattr(importlib.import_module(module), name or "MODELS")
    if callable(found) and not isinstance(found, Models):
        found = found()
    if not isinstance(found, Models):
        raise SystemExit(f"{path} is not a doorward_sqlalchemy.Models")
    return found


def main(argv: list[str] | None = None) -> int:
    """Print the plan and its SQL, or apply it; exit 1 while rows need a person's decision."""
    parser = argparse.ArgumentParser(prog="python -m doorward_sqlalchemy")
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("adopt", help="adopt an existing users table")
    command.add_argument("url", help="the database URL, e.g. postgresql+psycopg://...")
    command.add_argument("models", help="module:NAME of your doorward_sqlalchemy.Models")
    command.add_argument("--apply", action="store_true", help="change the database")
    args = parser.parse_args(argv)
    engine = create_engine(args.url)
    models = _models(args.models)
    try:
        if not args.apply:
            for statement in plan_sql(engine, models):
                print(f"{statement};")
        result = adopt(engine, models, apply=args.apply)
    finally:
        engine.dispose()
    print(
        f"table {result.table}: {len(result.added_columns)} columns to add "
        f"({', '.join(result.added_columns) or 'none'}), {result.filled_rows} rows to fill"
        + (" (done)" if result.applied else "")
    )
    for row_id, reason in sorted(result.unusable.items()):
        print(f"row {row_id}: the address cannot be used: {reason}", file=sys.stderr)
    for address, ids in sorted(result.duplicates.items()):
        print(f"{address}: rows {', '.join(ids)} share this address", file=sys.stderr)
    if result.duplicates:
        print("the unique index is not created until those rows are merged", file=sys.stderr)
        return 1
    if result.applied:
        print("the unique index on the normalised email is in place")
    return 0


if __name__ == "__main__":
    sys.exit(main())
