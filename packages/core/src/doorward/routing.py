"""Endpoints are declared next to their handlers, in the feature that owns them.

    class AsyncTerms(AsyncFeature):
        @endpoint("POST", "/terms", access="session", form="terms.html")
        async def accept(self, call: Call) -> HttpResponse: ...

The views collect the endpoints of every enabled feature; the adapters register them under
``Settings.url_prefix`` and call ``views.dispatch(route, ...)``. Nothing else names them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal, TypeVar

import attrs

__all__ = ["Access", "Endpoint", "Route", "endpoint", "declared_endpoints"]

#: Who may call an endpoint: anybody; any authenticated request (a session or an API
#: token); or a browser session only (never a bearer token).
Access = Literal["anyone", "user", "session"]

H = TypeVar("H", bound=Callable[..., Any])
_MARK = "__doorward_endpoints__"


@attrs.frozen(kw_only=True)
class Endpoint:
    """One method and path of the HTTP contract and how it is guarded.

    ``csrf``: cookie-authenticated unsafe requests need a CSRF token (CR-01).
    ``limit``: the ``Settings.rate_limits`` rule the endpoint's flow applies per client
    address (documented in the OpenAPI document as a possible 429).
    ``form``: the page re-rendered with the refused input and its errors (HTML only).
    """

    method: str
    path: str
    access: Access = "anyone"
    csrf: bool = True
    limit: str | None = None
    form: str | None = None
    #: The body fields it reads: name → ``str``, ``bool``, ``int`` or ``object`` (for the
    #: OpenAPI document; the flows check them); ``required`` names the ones it needs.
    body: Mapping[str, type] = attrs.field(factory=dict)
    required: tuple[str, ...] = ()
    #: The status of its success answer.
    status: int = 200
    #: ``False`` for a page browsers get (a form), with no JSON answer of its own.
    json: bool = True
    #: The media type of a success answer that is not JSON (``text/html`` for pages).
    media_type: str = "text/html"


@attrs.frozen(kw_only=True)
class Route:
    """An endpoint bound to its handler, as the views and adapters see it.

    ``name`` is the handler's name, unique across the enabled features (adapters derive
    their URL names from it); ``feature`` names the feature that owns it.
    """

    endpoint: Endpoint
    name: str
    feature: str
    handler: Callable[..., Any] = attrs.field(eq=False, repr=False)

    @property
    def method(self) -> str:
        """The HTTP method."""
        return self.endpoint.method

    @property
    def path(self) -> str:
        """The path below the prefix; ``{name}`` marks a parameter."""
        return self.endpoint.path


def endpoint(
    method: str,
    path: str,
    *,
    access: Access = "anyone",
    csrf: bool = True,
    limit: str | None = None,
    form: str | None = None,
    body: Mapping[str, type] | None = None,
    required: tuple[str, ...] = (),
    status: int = 200,
    json: bool = True,
    media_type: str = "text/html",
) -> Callable[[H], H]:
    """Declare the decorated handler as serving ``method path`` (stack it for aliases)."""
    declared = Endpoint(
        method=method.upper(),
        path=path,
        access=access,
        csrf=csrf,
        limit=limit,
        form=form,
        body=dict(body or {}),
        required=required,
        status=status,
        json=json,
        media_type=media_type,
    )

    def mark(handler: H) -> H:
        setattr(handler, _MARK, (*getattr(handler, _MARK, ()), declared))
        return handler

    return mark


def declared_endpoints(owner: object) -> Iterator[tuple[str, Endpoint]]:
    """``(handler name, endpoint)`` for every declared handler of ``owner``'s class.

    In declaration order, base classes first; a handler overridden in a subclass counts once.
    """
    seen: set[str] = set()
    for cls in reversed(type(owner).__mro__):
        for name in vars(cls):
            if name in seen:
                continue
            handler = getattr(type(owner), name, None)
            marks = getattr(handler, _MARK, ())
            if marks:
                seen.add(name)
            for declared in marks:
                yield name, declared
