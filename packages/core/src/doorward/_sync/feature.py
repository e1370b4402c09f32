# Generated from packages/core/src/doorward/_async/feature.py by scripts/unasync.py. Do not edit: edit the source.
"""The seam every feature plugs into (DESIGN §8), built-in or written by an application.

A feature is one class: its flows as methods, its endpoints declared next to their
handlers with ``doorward.routing.endpoint``, the store capabilities it needs, its mail
kinds (with their default templates), its events, its page notices and its template
folder. ``Auth(..., features=[...])`` composes them; ``docs/architecture.md`` shows a
complete one written outside the core.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib.resources.abc import Traversable
from typing import Any, ClassVar

from doorward._sync.context import Context
from doorward.capabilities import Capability
from doorward.routing import Route, declared_endpoints

__all__ = ["Feature"]


class Feature:
    """Base class of a feature. Subclasses set the class attributes below."""

    #: Unique name; ``Settings.disabled_features`` switches a feature off by it.
    name: ClassVar[str] = ""
    #: The store capabilities the flows call (``doorward.capabilities``); an instance may
    #: narrow them to what its configuration uses.
    capabilities: tuple[Capability, ...] = ()
    #: Mail kinds this feature sends; their templates are ``<kind>.subject|txt|html``.
    mails: ClassVar[tuple[str, ...]] = ()
    #: Where the default mail templates of ``mails`` live (bundled ones by default).
    mail_folder: ClassVar[Traversable | None] = None
    #: Placeholders the mails of this feature may use beyond link, email and site_name.
    mail_placeholders: ClassVar[frozenset[str]] = frozenset()
    #: Events the flows emit beyond the built-in ones.
    events: ClassVar[frozenset[str]] = frozenset()
    #: ``?notice=<code>`` texts pages of this feature may show.
    notices: ClassVar[dict[str, str]] = {}
    #: A folder of page templates, searched after the app's own and before the bundled.
    page_folder: ClassVar[Traversable | None] = None

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.web = ctx.web

    @property
    def store(self) -> Any:
        """The store (typed loosely: which capabilities it has depends on the site)."""
        return self.ctx.store

    def wanted(self) -> bool:
        """Whether the settings ask for this feature (a feature off by default says no)."""
        return True

    def routes(self) -> Iterator[Route]:
        """This feature's endpoints, bound to their handlers."""
        for name, declared in declared_endpoints(self):
            yield Route(
                endpoint=declared, name=name, feature=self.name, handler=getattr(self, name)
            )

    def body_of(self, route: Route) -> Mapping[str, type]:
        """The body fields of one of this feature's routes (for the OpenAPI document)."""
        return route.endpoint.body

    def extend_user_json(self, user: Any, body: dict[str, Any]) -> None:
        """Add this feature's public fields to ``GET /me`` (nothing by default)."""

    def second_factor(
        self,
        user: Any,  # noqa: ARG002 (the default asks nothing of anyone)
        *,
        trust_token: str | None = None,  # noqa: ARG002
    ) -> list[str]:
        """The second-factor methods this feature asks of ``user`` after the right password.

        Return method names (``["totp", "recovery"]``) to stop the login at a pending
        step (MF-05); none (the default) lets it go on. ``trust_token`` is the browser's
        "trust this browser" cookie, if any.
        """
        return []

    def enrolment_required(self, user: Any) -> bool:  # noqa: ARG002 (asks nothing)
        """Whether ``user`` must set up this feature's factor before using the site."""
        return False
