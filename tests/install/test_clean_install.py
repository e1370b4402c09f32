"""Each distribution installs and works alone: its imports are declared, and (e2e) its wheel
installs into a fresh venv with nothing else and runs (``scripts/check-install``)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = {
    "doorward",
    "doorward_flask",
    "doorward_starlette",
    "doorward_sqlalchemy",
    "doorward_mongo",
    "doorward_redis",
}
#: import names whose distribution has another name
DISTRIBUTION_OF = {
    "argon2": "argon2-cffi",
    "bson": "pymongo",
    "email_validator": "email-validator",
    "multipart": "python-multipart",
}
#: modules that only an extra makes importable: (package dir, path under src) -> extra
OPTIONAL = {
    ("core", "doorward/testing"): "testing",
    ("core", "doorward/_legacy_formats.py"): "legacy",
    ("core", "doorward/legacy.py"): "legacy",
    ("core", "doorward/_mfa_crypto.py"): "mfa",
    ("core", "doorward/_passkeys.py"): "passkeys",
    ("core", "doorward/_async/oauth_client.py"): "oauth",
    ("core", "doorward/_sync/oauth_client.py"): "oauth",
    ("starlette-adapter", "doorward_starlette/fastapi.py"): "fastapi",
}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(package: str) -> dict[str | None, set[str]]:
    """The distributions a package requires: None for its dependencies, else per extra."""
    project = tomllib.loads((ROOT / "packages" / package / "pyproject.toml").read_text())["project"]
    result: dict[str | None, set[str]] = {None: set()}
    result[None] = {canonical(Requirement(text).name) for text in project["dependencies"]}
    for extra, texts in project.get("optional-dependencies", {}).items():
        result[extra] = {canonical(Requirement(text).name) for text in texts}
    return result


def imported(path: Path) -> set[str]:
    """The top-level third-party modules a source file imports, at any depth."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in FIRST_PARTY}


@pytest.mark.parametrize(
    "package",
    [
        "core",
        "flask-adapter",
        "starlette-adapter",
        "store-sqlalchemy",
        "store-mongo",
        "store-redis",
    ],
)
def test_every_import_is_a_declared_dependency(package):
    """Each third-party module a distribution imports is named in its own metadata: in its
    dependencies, or in the extra that the importing module documents (a transitive
    dependency that happens to be installed does not count)."""
    requires = declared(package)
    src = ROOT / "packages" / package / "src"
    missing = []
    for path in sorted(src.rglob("*.py")):
        relative = path.relative_to(src).as_posix()
        extra = next(
            (
                e
                for (p, prefix), e in OPTIONAL.items()
                if p == package and relative.startswith(prefix)
            ),
            None,
        )
        allowed = requires[None] | requires.get(extra, set())
        for module in sorted(imported(path)):
            if canonical(DISTRIBUTION_OF.get(module, module)) not in allowed:
                where = f"[{extra}]" if extra else "dependencies"
                missing.append(f"{relative} imports {module}, not in {where}")
    assert not missing, "\n".join(missing)


@pytest.mark.e2e
def test_each_distribution_installs_alone_in_a_fresh_venv():
    """The six wheels build, and each installs into its own new venv from them and the
    package index (``pip install --find-links``), imports and runs a smoke there, extras
    included (``doorward[testing]``, ``doorward-sqlalchemy[sqlite-async]``,
    ``doorward-starlette[fastapi]``). About a minute; the pip cache makes reruns faster."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check-install")],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
