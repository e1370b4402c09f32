# Generated from packages/core/src/doorward/_async/sessions.py by scripts/unasync.py. Do not edit: edit the source.
"""The sessions list: a user sees where they are signed in and ends any of it (SS-08)."""

from __future__ import annotations

from typing import Any

from doorward import _rules
from doorward._sync.feature import Feature
from doorward._sync.protocols import Credentials, Users
from doorward.exceptions import NotFound
from doorward.http import HttpResponse
from doorward.records import Credential
from doorward.routing import endpoint
from doorward.web import Call, for_display

__all__ = ["Sessions"]


class Sessions(Feature):
    """``/sessions``: list and revoke."""

    name = "sessions"
    capabilities = (Users, Credentials)

    def list_sessions(self, user: Any) -> list[Credential]:
        """The user's live sessions, oldest first (SS-08)."""
        return self.ctx.live_credentials(user, "session")

    def list_app_clients(self, user: Any) -> list[dict[str, Any]]:
        """The user's signed-in app clients, when the app clients feature is on."""
        clients = self.ctx.features.get("app_clients")
        return [] if clients is None else list(clients.list_clients(user))

    def revoke_session(self, user: Any, session_id: str) -> None:
        """End one of the user's sessions or app clients; ``NotFound`` if it is not theirs."""
        clients = self.ctx.features.get("app_clients")
        if clients is not None and session_id.startswith("f"):
            clients.revoke_client(user, session_id)
            return
        if not self.store.delete_credential(session_id, str(user.id)):
            raise NotFound
        self.ctx.events.emit("session_revoked", user_id=str(user.id), session_id=session_id)

    @endpoint("GET", "/sessions", access="session")
    def list_sessions_page(self, call: Call) -> HttpResponse:
        """The user's sessions, this one marked ``current``."""
        current = call.current
        sessions = [
            _rules.public_credential(c, current=current.credential.id)
            for c in self.list_sessions(current.user)
        ]
        clients = self.list_app_clients(current.user)
        if call.as_json:
            return HttpResponse(json={"sessions": sessions, "app_clients": clients})
        shown = [for_display(session) for session in sessions]
        apps = [for_display(client) for client in clients]
        return self.web.page(
            call.request, "doorward/sessions.html", sessions=shown, app_clients=apps
        )

    @endpoint("DELETE", "/sessions/{session_id}", access="session", status=204)
    @endpoint("POST", "/sessions/{session_id}/revoke", access="session", status=204)
    def revoke_session_submit(self, call: Call) -> HttpResponse:
        """End one session (204; browsers go back to the list)."""
        self.revoke_session(call.current.user, call.params["session_id"])
        if call.as_json:
            return HttpResponse(status=204)
        return self.web.redirect("/sessions")
