"""The framework-neutral HTTP pieces: cookies, negotiation, body parsing, error answers."""

import pytest

from doorward.exceptions import PayloadTooLarge, RateLimited, UnsupportedMediaType, ValidationFailed
from doorward.http import Cookie, HttpRequest, error_response, parse_body, wants_json
from doorward.settings import Settings

SETTINGS = Settings(secret_keys="h" * 40, base_url="https://x.example.com")


def test_ss01_cookie_header_flags():
    """A set cookie carries Max-Age, Path=/, Secure, HttpOnly and SameSite=Lax, and no Domain."""
    header = Cookie(name="__Host-doorward", value="abc.def", max_age=60).header()
    assert header == "__Host-doorward=abc.def; Max-Age=60; Path=/; Secure; HttpOnly; SameSite=Lax"
    assert "Domain" not in header


def test_cookie_deletion_header():
    """A deleted cookie expires at once with the same flags, so browsers accept the deletion."""
    header = Cookie(name="__Host-doorward", value=None).header()
    assert header.startswith("__Host-doorward=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
    assert header.endswith("Path=/; Secure; HttpOnly; SameSite=Lax")


def test_cookie_values_cannot_inject_attributes():
    """A value with ';' or spaces is refused instead of adding attributes."""
    with pytest.raises(ValueError):
        Cookie(name="a", value="x; Domain=evil.com").header()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"content-type": "application/json"}, True),
        ({"accept": "application/json"}, True),
        ({"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}, False),
        ({"accept": "text/html;q=0.5, application/json"}, True),
        ({}, False),
    ],
)
def test_negotiation(headers, expected):
    """JSON when the body is JSON or Accept prefers it; HTML otherwise."""
    assert expected == wants_json(HttpRequest(method="GET", path="/", headers=headers))


def test_cr03_body_parsing():
    """JSON objects and forms are read; other types are 415, bad JSON 400, big bodies 413."""

    def request(body, ctype):
        return HttpRequest(method="POST", path="/", headers={"content-type": ctype}, body=body)

    assert parse_body(request(b'{"a": 1}', "application/json"), SETTINGS) == {"a": 1}
    assert parse_body(request(b"a=1", "application/x-www-form-urlencoded"), SETTINGS) == {"a": "1"}
    with pytest.raises(UnsupportedMediaType):
        parse_body(request(b'{"a": 1}', "text/plain"), SETTINGS)
    with pytest.raises(ValidationFailed):
        parse_body(request(b"[1]", "application/json"), SETTINGS)
    with pytest.raises(PayloadTooLarge):
        parse_body(request(b"x" * 70_000, "application/json"), SETTINGS)


def test_rate_limited_answer_has_retry_after():
    """A 429 answer says when to retry, rounded up to whole seconds."""
    response = error_response(RateLimited(retry_after=2.2), json_body=True)
    assert (response.status, response.headers["Retry-After"]) == (429, "3")
    assert response.json["error"]["code"] == "rate_limited"


def test_headers_on_demand_gather_once_and_answer_as_a_mapping():
    """An adapter gives ``get`` and ``gather``; lookups never gather, iterating does, once."""
    from doorward.http import HeadersOnDemand

    class Raw(HeadersOnDemand):
        def __init__(self, values):
            super().__init__()
            self.values = values
            self.gathered = 0

        def get(self, name, default=None):
            return self.values.get(name.lower(), default)

        def gather(self):
            self.gathered += 1
            return dict(self.values)

    headers = Raw({"cookie": "a=1", "accept": "text/html"})
    assert headers["Cookie"] == "a=1"
    assert "accept" in headers
    assert "authorization" not in headers
    assert 42 not in headers
    with pytest.raises(KeyError):
        headers["authorization"]
    assert headers.gathered == 0
    assert dict(headers) == {"cookie": "a=1", "accept": "text/html"}
    assert len(headers) == 2
    assert sorted(headers) == ["accept", "cookie"]
    assert headers.gathered == 1
    request = HttpRequest(method="GET", path="/", headers=headers)
    assert request.bearer_token is None
    assert request.content_type == ""
