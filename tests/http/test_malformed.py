"""No body makes any auth route answer 500: random JSON values, random bytes, random
content types, on every adapter (with the in-memory store; the stores are covered by their
own contract suites)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROUTES = [
    "/auth/login",
    "/auth/register",
    "/auth/reset",
    "/auth/confirm",
    "/auth/change-password",
    "/auth/change-email",
    "/auth/tokens",
    "/auth/reauth",
    "/auth/logout",
    "/auth/reset/not-a-token",
]
FIELDS = [
    "email",
    "password",
    "remember",
    "name",
    "current_password",
    "new_password",
    "new_email",
    "expires_in_days",
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=300),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=5).map(
        lambda d: json.dumps(d).encode()
    ),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=400),
)
content_types = st.sampled_from(
    [
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "multipart/form-data",
        "text/plain",
        "",
        "application/json; charset=latin-1",
    ]
)


@pytest.fixture
def logged_in(site, adapter):
    if not adapter.endswith("-memory"):
        pytest.skip("malformed bodies are checked once per framework, on the memory store")
    site.create_user("a@example.com", "correct horse battery staple")
    token = site.client.get("/auth/csrf", headers={"Accept": "application/json"}).json()[
        "csrf_token"
    ]
    site.client.post(
        "/auth/login",
        json={"email": "a@example.com", "password": "correct horse battery staple"},
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
    )
    return site


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    route=st.sampled_from(ROUTES), body=bodies, content_type=content_types, as_json=st.booleans()
)
def test_iv02_no_500_for_any_body(logged_in, route, body, content_type, as_json):
    """Whatever the body and its declared type, the answer is a 4xx or a success, never a 500."""
    http = logged_in.client
    token = http.get("/auth/csrf", headers={"Accept": "application/json"}).json()["csrf_token"]
    headers = {"X-CSRF-Token": token, "Content-Type": content_type}
    if as_json:
        headers["Accept"] = "application/json"
    response = http.post(route, content=body, headers=headers)
    assert response.status_code < 500, (response.status_code, response.text[:300])
    assert "Traceback" not in response.text
