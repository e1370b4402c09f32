"""A feature written outside the core: users accept the site's terms of service.

One setting (the current ``version``), one endpoint (``POST /terms``), one user field
(``terms_version``, written through the store's profiles capability), one mail
(``terms_accepted``) and one event. Written once, for the async face; ``terms.py``
generates the sync twin from this file the way ``scripts/unasync.py`` does for the core.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from doorward import AsyncContext, AsyncFeature, AsyncProfiles, AsyncUsers, Call, endpoint
from doorward.exceptions import ValidationFailed
from doorward.fields import read_field
from doorward.http import HttpResponse

FOLDER = resources.files("tests.features")


class AsyncTerms(AsyncFeature):
    """``POST /terms`` with the current version records it on the user and mails a receipt."""

    name = "terms"
    capabilities = (AsyncUsers, AsyncProfiles)
    mails = ("terms_accepted",)
    mail_folder = FOLDER.joinpath("mail")
    mail_placeholders = frozenset({"version"})
    events = frozenset({"terms_accepted"})
    notices = {"terms_accepted": "Thank you for accepting the terms."}  # noqa: RUF012
    page_folder = FOLDER.joinpath("pages")

    def __init__(self, ctx: AsyncContext, *, version: str) -> None:
        super().__init__(ctx)
        self.version = version

    async def accept(self, user: Any, version: object) -> Any:
        """Record that ``user`` accepted the current terms (only the current version)."""
        if version != self.version:
            raise ValidationFailed({"version": [f"The current terms are {self.version}."]})
        user = await self.store.update_profile(user, {"terms_version": self.version})
        self.ctx.events.emit("terms_accepted", user_id=str(user.id), version=self.version)
        await self.ctx.mail(
            "terms_accepted",
            user.email,
            link=self.settings.url("/me"),
            values={"version": self.version},
        )
        return user

    @endpoint("POST", "/terms", access="session", form="terms.html")
    async def accept_submit(self, call: Call) -> HttpResponse:
        """Accept the terms of ``version``."""
        await self.accept(call.current.user, call.field("version"))
        if call.as_json:
            return HttpResponse(json={"terms": {"accepted": self.version}})
        return self.web.redirect("/me?notice=terms_accepted")

    async def extend_user_json(self, user: Any, body: dict[str, Any]) -> None:
        """``GET /me`` shows which terms the user accepted."""
        body["terms_version"] = read_field(user, "terms_version")
