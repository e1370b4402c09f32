"""Two Flask workers (gunicorn) and two Starlette workers (uvicorn) on one PostgreSQL database,
with mail caught by a real SMTP server; the example apps as real servers; the browser tests'
chromium, axe-core and ``Tab``. Loopback only; every wait is bounded."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
import sqlalchemy as sa

from doorward import Auth, Role, Settings
from doorward._sync.mailers import Outbox
from doorward.testing.smtp import SmtpServer
from doorward_mongo import MongoStore
from doorward_sqlalchemy import SQLAlchemyStore, default_models, sqlite_engine
from doorward_sqlalchemy.models import Base, DefaultUser

ROOT = Path(__file__).resolve().parents[2]
#: the password of the accounts the browser tests make
PASSWORD = "correct horse battery staple"

#: Debian's chromium (scripts/test installs it); Playwright never downloads a browser here
CHROMIUM = shutil.which("chromium")
#: flags for a closed network and a container without a GPU or a user namespace sandbox
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


@attrs.define
class Cluster:
    flask_url: str
    starlette_url: str
    smtp: SmtpServer
    engine: sa.Engine | None = None
    database: Any = None

    def accounts(self, email: str) -> int:
        """How many accounts have this normalized email, read from the database itself."""
        if self.database is not None:
            return int(self.database["users"].count_documents({"normalized_email": email}))
        assert self.engine is not None
        with self.engine.connect() as connection:
            query = sa.select(sa.func.count()).select_from(DefaultUser)
            return int(connection.scalar(query.where(DefaultUser.normalized_email == email)))

    def failed_logins(self, email: str) -> int:
        """The stored failure counter of an account."""
        if self.database is not None:
            return int(
                self.database["users"].find_one({"normalized_email": email})["failed_logins"]
            )
        assert self.engine is not None
        with self.engine.connect() as connection:
            query = sa.select(DefaultUser.failed_logins)
            return int(connection.scalar(query.where(DefaultUser.normalized_email == email)))


@pytest.fixture(scope="session")
def cluster(postgres_database):
    engine = sa.create_engine(postgres_database)
    Base.metadata.create_all(engine)
    environment = {
        "DOORWARD_E2E_DATABASE_URL": postgres_database.render_as_string(hide_password=False)
    }
    with _running(environment) as (flask_url, starlette_url, smtp):
        yield Cluster(flask_url=flask_url, starlette_url=starlette_url, smtp=smtp, engine=engine)
    engine.dispose()


@pytest.fixture(scope="session")
def mongo_cluster(mongo_url, sync_client):
    name = f"doorward_e2e_{secrets.token_hex(4)}"
    MongoStore(sync_client, name).ensure_indexes()
    environment = {"DOORWARD_E2E_MONGO_URL": mongo_url, "DOORWARD_E2E_MONGO_DB": name}
    try:
        with _running(environment) as (flask_url, starlette_url, smtp):
            yield Cluster(
                flask_url=flask_url,
                starlette_url=starlette_url,
                smtp=smtp,
                database=sync_client[name],
            )
    finally:
        sync_client.drop_database(name)


@pytest.fixture(params=["postgres", "mongo"])
def any_cluster(request):
    """The PostgreSQL cluster and the Mongo cluster in turn."""
    return request.getfixturevalue("cluster" if request.param == "postgres" else "mongo_cluster")


@pytest.fixture(scope="module")
def browser():
    """One headless chromium per test module; each test opens its own context."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is in requirements/e2e.txt"
    )
    if CHROMIUM is None:
        pytest.skip(
            "chromium is not installed and could not be installed "
            "(scripts/test installs it with apt-get when run as root)"
        )
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=30_000
        )
        try:
            yield launched
        finally:
            launched.close()


def wait_for_focus(page: Any, element_id: str, timeout: float = 5_000) -> None:
    """Wait until the element with this id has the focus (``autofocus`` takes effect at the
    page's next rendering, which may come after its load event)."""
    page.wait_for_function(
        "id => document.activeElement !== null && document.activeElement.id === id",
        arg=element_id,
        timeout=timeout,
    )


#: axe-core from npm, installed by the ``axe_script`` fixture into an ignored folder
AXE_CORE = "4.14.1"
AXE_DIR = ROOT / ".cache" / "axe"

_AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(" ") + ": " + n.failureSummary)}));
}"""


@pytest.fixture(scope="session")
def axe_script() -> str:
    """axe.min.js of the pinned axe-core, installed with npm when absent (never committed)."""
    script = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
    manifest = script.with_name("package.json")
    if not manifest.exists() or json.loads(manifest.read_text())["version"] != AXE_CORE:
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: axe-core cannot be installed")
        quiet = ["--no-save", "--no-package-lock", "--no-audit", "--no-fund"]
        subprocess.run(
            [npm, "install", *quiet, "--prefix", str(AXE_DIR), f"axe-core@{AXE_CORE}"],
            check=True,
            capture_output=True,
            timeout=120,
        )
    return script.read_text()


def axe_violations(page: Any, script: str) -> list[dict[str, Any]]:
    """The serious and critical axe-core violations of the page as it is now."""
    page.evaluate(script)
    return list(page.evaluate(_AXE_RUN))


@contextmanager
def _running(environment, host="127.0.0.1"):
    """The servers; ``host`` names them in ``base_url`` (passkeys need a domain: localhost)."""
    secret = secrets.token_urlsafe(48)
    processes = []
    with SmtpServer() as smtp:
        flask_port, starlette_port = free_port(), free_port()
        common = {
            **os.environ,
            **environment,
            "DOORWARD_SECRET_KEY": secret,
            "DOORWARD_MAIL_URL": f"smtp://127.0.0.1:{smtp.port}?from=auth@example.com",
            "PYTHONPATH": str(ROOT),
        }
        commands = [
            (
                flask_port,
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-w",
                    "2",
                    "--threads",
                    "8",
                    "-b",
                    f"127.0.0.1:{flask_port}",
                    "--log-level",
                    "warning",
                    "tests.e2e.apps:flask_app()",
                ],
            ),
            (
                starlette_port,
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--factory",
                    "tests.e2e.apps:starlette_app",
                    "--workers",
                    "2",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(starlette_port),
                    "--log-level",
                    "warning",
                ],
            ),
        ]
        try:
            for port, command in commands:
                env = {**common, "DOORWARD_BASE_URL": f"http://{host}:{port}"}
                processes.append((port, subprocess.Popen(command, cwd=ROOT, env=env)))
            for port, process in processes:
                wait_for_port(port, process)
            yield f"http://{host}:{flask_port}", f"http://{host}:{starlette_port}", smtp
        finally:
            for _, process in processes:
                process.terminate()
            for _, process in processes:
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()


_REFUSED_PAGE = "Failed to load resource: the server responded with a status of 4"

#: inputs a person fills in or ticks whose label is missing or empty
UNLABELLED = """() => Array.from(document.querySelectorAll("input, select, textarea"))
  .filter(e => !["hidden", "submit", "button", "reset", "image"].includes(e.type))
  .filter(e => !e.getAttribute("aria-label") && !e.getAttribute("aria-labelledby")
    && !Array.from(e.labels).some(l => l.textContent.trim()))
  .map(e => e.outerHTML)"""

#: ARIA references to an id the page does not have
DANGLING = """() => Array.from(document.querySelectorAll("[aria-describedby], [aria-labelledby]"))
  .flatMap(e => ["aria-describedby", "aria-labelledby"]
    .flatMap(a => (e.getAttribute(a) || "").split(/\\s+/).filter(Boolean))
    .filter(id => !document.getElementById(id))
    .map(id => e.outerHTML))"""


@attrs.define
class Tab:
    """A browser context's page, and what each step checks on it."""

    page: Any
    axe: str
    shots: Path
    name: str
    problems: list[str] = attrs.Factory(list)
    console: list[tuple[str, str]] = attrs.Factory(list)
    refused: set[str] = attrs.Factory(set)
    steps: int = 0

    def errors(self) -> list[str]:
        """The 5xx answers, the script errors and the console errors; not the browser's own
        report of a page answered with 4xx (a refused form is a 400 page)."""
        reported = [
            f"console error: {text} ({url})"
            for text, url in self.console
            if not (text.startswith(_REFUSED_PAGE) and url in self.refused)
        ]
        return self.problems + reported

    def check(self, step: str) -> None:
        """A screenshot; then no 5xx and no console error so far, every input labelled, and
        no serious or critical axe-core violation."""
        page = self.page
        page.wait_for_load_state()
        self.steps += 1
        page.screenshot(
            path=self.shots / f"{self.name}-{self.steps:02d}-{step}.png", full_page=True
        )
        assert self.errors() == [], f"{step} ({page.url})"
        unlabelled = page.evaluate(UNLABELLED)
        assert unlabelled == [], f"{step} ({page.url}): inputs without a label"
        dangling = page.evaluate(DANGLING)
        assert dangling == [], f"{step} ({page.url}): ARIA references to no element"
        violations = axe_violations(page, self.axe)
        assert violations == [], f"{step} ({page.url}): axe-core\n" + json.dumps(
            violations, indent=1
        )

    def submit(self, button: str) -> None:
        """Click the button named ``button`` and wait for the page it leads to."""
        with self.page.expect_navigation():
            self.page.get_by_role("button", name=button, exact=True).click()

    def follow(self, link: str) -> None:
        """Click the link named ``link``: the one in the page's content where there is one
        (the layout's navigation may hold one of the same name leading elsewhere)."""
        inside = self.page.locator("main").get_by_role("link", name=link, exact=True)
        anywhere = self.page.get_by_role("link", name=link, exact=True)
        chosen = inside if inside.count() else anywhere
        with self.page.expect_navigation():
            chosen.first.click()


@contextmanager
def tab(browser: Any, axe: str, shots: Path, name: str, **options: Any) -> Iterator[Tab]:
    context = browser.new_context(**options)
    context.set_default_timeout(10_000)
    context.set_default_navigation_timeout(15_000)
    opened = Tab(context.new_page(), axe, shots, name)

    def on_console(message: Any) -> None:
        if message.type == "error":
            opened.console.append((message.text, message.location.get("url", "")))

    def on_response(response: Any) -> None:
        if response.status >= 500:
            opened.problems.append(f"{response.status} from {response.url}")
        elif response.status >= 400 and response.request.is_navigation_request():
            opened.refused.add(response.url)

    opened.page.on("console", on_console)
    opened.page.on("pageerror", lambda error: opened.problems.append(f"page error: {error}"))
    opened.page.on("response", on_response)
    try:
        yield opened
    finally:
        context.close()


@attrs.define
class Examples:
    urls: dict[str, str]
    smtp: SmtpServer
    auth: Auth

    def confirmed_user(self, roles: tuple[str, ...] = ()) -> str:
        """A new confirmed account (written straight to the shared database)."""
        email = f"{secrets.token_hex(4)}@example.com"
        self.auth.create_user(email, PASSWORD, confirmed=True, roles=list(roles))
        return email

    def link(self, to: str, kind: str, before: int) -> str:
        """The newest mailed link of ``kind`` (``confirm``, ``reset``) sent to ``to``."""
        return mailed_link(self.smtp, to, kind, before, timeout=15)


def mailed_link(smtp: SmtpServer, to: str, path: str, before: int, timeout: float = 10) -> str:
    """The newest link under ``/auth/<path>/`` mailed to ``to`` after ``before`` mails.

    Waits for that mail itself, not for any mail: the example servers deliver through their
    outbox worker, so an earlier test's notice may arrive after ``before`` was counted and
    before this test's mail."""
    pattern = re.compile(rf"https?://\S+/auth/{path}/[\w.\-=]+")
    mail = smtp.wait_for_mail(to=to, after=before, containing=pattern, timeout=timeout)
    found = pattern.search(SmtpServer.text_of(mail))
    assert found is not None
    return found.group(0)


@contextmanager
def _example_servers(database: str, smtp: SmtpServer, secret: str) -> Iterator[dict[str, str]]:
    ports = {"flask": free_port(), "starlette": free_port()}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    common = {
        **os.environ,
        "DOORWARD_SECRET_KEY": secret,
        "DOORWARD_DATABASE_URL": database,
        "DOORWARD_MAIL_URL": f"smtp://127.0.0.1:{smtp.port}?from=auth@example.com",
        "PYTHONPATH": str(ROOT),
    }
    common.pop("DOORWARD_REDIS_URL", None)
    commands = {
        "flask": [sys.executable, "-m", "gunicorn", "-w", "1", "--threads", "4", "-b",
                  f"127.0.0.1:{ports['flask']}", "--log-level", "warning",
                  "examples.flask_app:create_app()"],
        "starlette": [sys.executable, "-m", "uvicorn", "--factory",
                      "examples.starlette_app:create_app", "--host", "127.0.0.1", "--port",
                      str(ports["starlette"]), "--log-level", "warning"],
    }  # fmt: skip
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for name, command in commands.items():
            other = "starlette" if name == "flask" else "flask"
            env = {
                **common,
                "DOORWARD_BASE_URL": urls[name],
                "DOORWARD_OTHER_APP_URL": urls[other],
                "DOORWARD_OTHER_APP_NAME": other.capitalize(),
            }
            processes.append(subprocess.Popen(command, cwd=ROOT, env=env))
        for port, process in zip(ports.values(), processes, strict=True):
            wait_for_port(port, process)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Examples]:
    database = f"sqlite:///{tmp_path_factory.mktemp('examples')}/users.sqlite3"
    secret = secrets.token_urlsafe(48)
    engine = sqlite_engine(database)
    Base.metadata.create_all(engine)
    settings = Settings(secret_keys=secret, base_url="http://127.0.0.1", insecure_development=True)
    auth = Auth(settings, SQLAlchemyStore(engine, default_models()), mailer=Outbox())
    auth.store.save_role(Role(name="admin", description="sees /admin"))
    with SmtpServer() as smtp, _example_servers(database, smtp, secret) as urls:
        yield Examples(urls=urls, smtp=smtp, auth=auth)
    engine.dispose()
