# Generated from packages/core/src/doorward/_async/profile.py by scripts/unasync.py. Do not edit: edit the source.
"""The application's own user fields: shown in ``GET /me``, changed with ``PATCH /me``.

The fields are declared once in ``Settings.signup_fields`` (``doorward.fields.Field``);
only the ``editable`` ones change here, through the store's profiles capability.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from doorward._sync.context import Context
from doorward._sync.feature import Feature
from doorward._sync.protocols import Profiles, Users
from doorward.fields import clean_fields, read_field
from doorward.http import HttpResponse
from doorward.routing import Route, endpoint
from doorward.web import Call

__all__ = ["Profile"]


class Profile(Feature):
    """``PATCH /me`` for the declared editable fields; those fields in ``GET /me``."""

    name = "profile"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.fields = ctx.settings.signup_fields
        self.editable = tuple(field for field in self.fields if field.editable)
        # only a site with editable fields writes profiles
        self.capabilities = (Users, Profiles) if self.editable else (Users,)

    def update_profile(self, user: Any, changes: Mapping[str, Any]) -> Any:
        """Check and write the submitted editable fields; unknown ones are refused (IV-03)."""
        values = clean_fields(self.editable, changes, partial=True, refuse_unknown=changes)
        if not values:
            return user
        user = self.store.update_profile(user, values)
        self.ctx.events.emit("profile_updated", user_id=str(user.id), fields=sorted(values))
        return user

    def body_of(self, route: Route) -> Mapping[str, type]:
        """``PATCH /me`` takes the editable fields."""
        return (
            {field.name: field.kind for field in self.editable}
            if route.name == "patch_me"
            else route.endpoint.body
        )

    def extend_user_json(self, user: Any, body: dict[str, Any]) -> None:
        """``GET /me`` shows the declared fields."""
        for field in self.fields:
            body[field.name] = read_field(user, field.name)

    @endpoint("PATCH", "/me", access="session")
    def patch_me(self, call: Call) -> HttpResponse:
        """Change editable profile fields → the user as ``GET /me`` shows it."""
        login = self.ctx.feature_named("login")
        user = self.update_profile(call.current.user, call.fields)
        body: dict[str, Any] = login.public_user(user)
        return HttpResponse(json=body)
