"""``current_user``: the application's user object, or an anonymous stand-in."""

from __future__ import annotations

from typing import Any

from werkzeug.local import LocalProxy

from doorward_flask._state import loaded_identity

__all__ = ["AnonymousUser", "current_user"]


class AnonymousUser:
    """Who ``current_user`` is when nobody is logged in: falsy, ``is_authenticated`` False."""

    id = None
    email = None
    is_authenticated = False
    is_anonymous = True

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "<AnonymousUser>"


ANONYMOUS = AnonymousUser()


def _current_user() -> Any:
    identity = loaded_identity()
    return identity.user if identity is not None else ANONYMOUS


#: The logged-in user (your model's object), usable in views and templates; the request
#: is identified the first time it is used.
current_user: Any = LocalProxy(_current_user)
