"""A real OpenID Connect provider for the tests: oidc-provider-mock on a free loopback port.

It runs in a werkzeug server thread. ``ProviderServer.tamper`` may rewrite the token
endpoint's JSON answer, to play a provider (or network) that hands back an ID token
minted for another client.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit, urlunsplit

import httpx
import oidc_provider_mock
import werkzeug.serving


class ProviderServer:
    """The provider's URL, its claims API and the tamper hook."""

    def __init__(self) -> None:
        self.tamper: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self.inner = oidc_provider_mock.app()
        self.server = werkzeug.serving.make_server("127.0.0.1", 0, self, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.tamper is None or environ.get("PATH_INFO") != "/oauth2/token":
            return self.inner(environ, start_response)
        captured: dict[str, Any] = {}

        def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        body = b"".join(self.inner(environ, keep))
        if captured["status"].startswith("200"):
            body = json.dumps(self.tamper(json.loads(body))).encode()
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(captured["status"], [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def set_user(self, sub: str, **claims: Any) -> None:
        """The claims the provider asserts for ``sub`` from now on."""
        answer = httpx.put(f"{self.url}/users/{quote(sub, safe='')}", json=claims)
        assert answer.status_code == 204, answer.text

    def authorize(self, authorize_url: str, sub: str) -> str:
        """Approve as ``sub`` at the provider: the callback URL it redirects to."""
        answer = httpx.post(authorize_url, data={"sub": sub})
        assert answer.status_code == 302, answer.text
        return answer.headers["location"]

    def id_token_for(self, client_id: str, sub: str, *, nonce: str, redirect_uri: str) -> str:
        """A genuine ID token of this provider, minted for another client."""
        query = urlencode(
            {
                "client_id": client_id,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "scope": "openid email",
                "state": "s",
                "nonce": nonce,
            }
        )
        callback = self.authorize(f"{self.url}/oauth2/authorize?{query}", sub)
        code = parse_qs(urlsplit(callback).query)["code"][0]
        answer = httpx.post(
            f"{self.url}/oauth2/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
            auth=(client_id, "other-secret"),
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["id_token"])


def with_query(url: str, **changes: str) -> str:
    """``url`` with some query parameters replaced."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def query_of(url: str) -> dict[str, str]:
    """The query parameters of ``url``."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@contextmanager
def running_provider() -> Iterator[ProviderServer]:
    """Start the provider on a free port of 127.0.0.1; stop it afterwards."""
    provider = ProviderServer()
    thread = threading.Thread(target=provider.server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield provider
    finally:
        provider.server.shutdown()
        thread.join()
        provider.server.server_close()
