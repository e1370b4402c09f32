"""The served OpenAPI document (``GET /auth/openapi.json``) describes the JSON contract,
and Schemathesis, fed that document from a real server on 127.0.0.1, finds no 5xx and no
answer the document does not allow, on the Flask app (werkzeug) and the Starlette app
(uvicorn) over the memory store."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import schemathesis
import uvicorn
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    unsupported_method,
)
from starlette.applications import Starlette
from werkzeug.serving import make_server

from doorward import Argon2Params, AsyncMemoryStore, MemoryStore, Settings
from doorward.mailers import AsyncOutbox, Outbox

pytestmark = pytest.mark.e2e


def doorward_settings():
    return Settings(
        secret_keys="openapi-tests-secret-key-0123456789abcdef",
        base_url="http://127.0.0.1",
        insecure_development=True,
        argon2=Argon2Params.insecure_for_tests(),
        rate_limits={},
        sign_in_by_email=True,
        app_clients=True,
    )


def flask_server():
    from doorward_flask import Doorward

    app = Flask(__name__)
    Doorward(app, store=MemoryStore(), settings=doorward_settings(), mailer=Outbox())
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server.shutdown


def starlette_server():
    from doorward_starlette import Doorward

    doorward = Doorward(
        settings=doorward_settings(), store=AsyncMemoryStore(), mailer=AsyncOutbox()
    )
    app = Starlette(routes=[doorward.mount()], middleware=[doorward.middleware()])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True).start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]

    def stop():
        server.should_exit = True

    return f"http://127.0.0.1:{port}", stop


@pytest.fixture(scope="module", params=["flask", "starlette"])
def api_schema(request):
    base, stop = flask_server() if request.param == "flask" else starlette_server()
    loaded = schemathesis.openapi.from_url(f"{base}/auth/openapi.json")
    loaded.config.update(base_url=base)
    yield loaded
    stop()


def test_the_document_lists_every_route():
    """Every route of the enabled features is in the document, with its method."""
    from doorward import Auth, Views

    auth = Auth(doorward_settings(), MemoryStore())
    views = Views(auth)
    served = Flask(__name__)
    from doorward_flask import Doorward

    Doorward(served, auth=auth)
    body = served.test_client().get("/auth/openapi.json").get_json()
    assert body["openapi"] == "3.1.0"
    for route in views.routes:
        assert route.method.lower() in body["paths"][f"/auth{route.path}"], route.path
    assert body["paths"]["/auth/login"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]["required"] == ["email", "password"]


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_document(case):
    """No 5xx, and every status, content type and body is one the document allows.

    Not checked: 405 Allow lists (the framework's), that schema-valid data is accepted (the
    flows refuse more than a schema says: a blocklisted password), and that the GET pages
    of emailed links refuse a malformed token (they show the form; the POST checks it).
    """
    case.call_and_validate(
        headers={"Accept": "application/json"},
        excluded_checks=[
            unsupported_method,
            allow_header_conformance,
            positive_data_acceptance,
            negative_data_rejection,
        ],
    )
