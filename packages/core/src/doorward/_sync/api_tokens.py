# Generated from packages/core/src/doorward/_async/api_tokens.py by scripts/unasync.py. Do not edit: edit the source.
"""API tokens: bearer tokens a user issues from a browser session, shown once (TK-09)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs

from doorward import _rules
from doorward._sync.feature import Feature
from doorward._sync.protocols import Credentials, Users
from doorward.exceptions import NotFound, ValidationFailed
from doorward.http import HttpResponse
from doorward.i18n import N_
from doorward.records import Credential
from doorward.routing import endpoint
from doorward.web import Call, for_display

__all__ = ["ApiTokens"]

_NO_STORE = {"Cache-Control": "no-store"}


class ApiTokens(Feature):
    """``/tokens``: list, issue and revoke API tokens."""

    name = "api_tokens"
    capabilities = (Users, Credentials)

    # -- flows -------------------------------------------------------------------------------

    def issue_api_token(
        self, user: Any, name: object, *, expires_in: timedelta | None = None
    ) -> tuple[str, Credential]:
        """A new bearer token ``(token, record)``; the token is shown this once (TK-09)."""
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise ValidationFailed({"name": [N_("Give the token a name of 1 to 100 characters.")]})
        now = self.ctx.clock.now()
        ceiling = self.settings.api_token_max_age
        lifetime = expires_in if expires_in is not None else ceiling
        if lifetime is not None and ceiling is not None and lifetime > ceiling:
            lifetime = ceiling
        token, credential = self.ctx.new_credential(
            user,
            "api",
            now,
            expires_at=now + lifetime if lifetime is not None else None,
            name=name.strip(),
        )
        self.store.create_credential(credential)
        self.ctx.events.emit("token_issued", user_id=str(user.id), token_id=credential.id)
        return token, credential

    def list_api_tokens(self, user: Any) -> list[Credential]:
        """The user's live API tokens, oldest first (never their secrets)."""
        return self.ctx.live_credentials(user, "api")

    def revoke_api_token(self, user: Any, token_id: str) -> None:
        """Revoke one of the user's API tokens; ``NotFound`` if it is not theirs."""
        tokens = self.store.list_credentials(str(user.id), "api")
        if not any(c.id == token_id for c in tokens):
            raise NotFound
        if not self.store.delete_credential(token_id, str(user.id)):
            raise NotFound
        self.ctx.events.emit("token_revoked", user_id=str(user.id), token_id=token_id)

    # -- endpoints -------------------------------------------------------------------------

    @endpoint("GET", "/tokens", access="session")
    def list_tokens(self, call: Call) -> HttpResponse:
        """The user's tokens (never their secrets)."""
        tokens = [
            _rules.public_credential(c) for c in self.list_api_tokens(call.current.user)
        ]
        if call.as_json:
            return HttpResponse(json={"tokens": tokens})
        shown = [for_display(token) for token in tokens]
        return self.web.page(
            call.request, "doorward/tokens.html", tokens=shown, new_token=call.new_token
        )

    @endpoint(
        "POST",
        "/tokens",
        access="session",
        form="doorward/tokens.html",
        body={"name": str, "expires_in_days": int},
        required=("name",),
        status=201,
    )
    def issue_token(self, call: Call) -> HttpResponse:
        """A new token, shown once (201, ``no-store``)."""
        token, credential = self.issue_api_token(
            call.current.user, call.field("name"), expires_in=_days(call.field("expires_in_days"))
        )
        if call.as_json:
            body = {"token": token, **_rules.public_credential(credential)}
            return HttpResponse(status=201, json=body, headers=dict(_NO_STORE))
        response = self.list_tokens(attrs.evolve(call, new_token=token))
        response.status = 201
        response.headers.update(_NO_STORE)
        return response

    @endpoint("DELETE", "/tokens/{token_id}", access="session", status=204)
    @endpoint("POST", "/tokens/{token_id}/revoke", access="session", status=204)
    def revoke_token(self, call: Call) -> HttpResponse:
        """Revoke one token (204; browsers go back to the list)."""
        self.revoke_api_token(call.current.user, call.params["token_id"])
        if call.as_json:
            return HttpResponse(status=204)
        return self.web.redirect("/tokens")


def _days(days: object) -> timedelta | None:
    if days in (None, ""):
        return None
    try:
        count = int(days)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        count = 0
    if isinstance(days, bool) or not 1 <= count <= 3650:
        raise ValidationFailed({"expires_in_days": [N_("A whole number of days, 1 to 3650.")]})
    return timedelta(days=count)
