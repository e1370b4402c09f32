"""The application's own user fields, declared once: collected at sign-up, shown in
``GET /me``, changed through ``PATCH /me`` when editable.

    Settings(..., signup_fields=(
        Field("company_id", kind=int, required=True, label="Company number"),
        Field("display_name", max_length=80, editable=True),
    ))

Values are checked here (type, length, choices, the app's validator) and stored on the
app's model through the store (``NewUser.extra`` at sign-up, the profiles capability after).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from doorward.exceptions import ValidationFailed
from doorward.i18n import N_, Message
from doorward.records import USER_FIELDS

__all__ = ["Field", "clean_fields", "read_field"]

_RESERVED = frozenset({*USER_FIELDS, "password", "csrf_token", "next", "remember", "roles"})
_KINDS: tuple[type[Any], ...] = (str, int, bool)
_TRUE = frozenset({"1", "true", "on", "yes"})
_FALSE = frozenset({"", "0", "false", "off", "no"})


def _checked_name(_: object, __: attrs.Attribute[Any], value: str) -> None:
    if not value.isidentifier() or value.startswith("_") or value in _RESERVED:
        raise ValueError(f"{value!r} cannot be an application field name")


@attrs.frozen
class Field:
    """One field of the application's user model that people fill in themselves.

    ``kind`` is ``str``, ``int`` or ``bool``. ``validate`` gets the typed value and
    returns the value to store, or raises ``ValueError`` whose message is shown next to
    the field. ``editable`` fields can change later through ``PATCH /me``.
    """

    name: str = attrs.field(validator=_checked_name)
    kind: type[Any] = attrs.field(default=str, validator=attrs.validators.in_(_KINDS))
    required: bool = False
    label: str = ""
    editable: bool = False
    max_length: int = 200
    choices: tuple[str, ...] = ()
    validate: Callable[[Any], Any] | None = attrs.field(default=None, eq=False)

    @property
    def title(self) -> str:
        """The label shown on forms."""
        return self.label or self.name.replace("_", " ").capitalize()

    @property
    def input_type(self) -> str:
        """The HTML input type of the field."""
        return {int: "number", bool: "checkbox"}.get(self.kind, "text")

    def clean(self, raw: object) -> Any:
        """The typed, checked value of ``raw`` (JSON value or form string); ``ValueError``."""
        value = self._typed(raw)
        if isinstance(value, str):
            value = value.strip()
            if len(value) > self.max_length:
                raise ValueError(N_("At most %(max)s characters.", max=self.max_length))
            if self.choices and value not in self.choices:
                raise ValueError(N_("One of: %(choices)s.", choices=", ".join(self.choices)))
        if self.validate is not None:
            value = self.validate(value)
        return value

    def _typed(self, raw: object) -> Any:
        if self.kind is bool:
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.lower() in _TRUE | _FALSE:
                return raw.lower() in _TRUE
            raise ValueError(N_("Must be true or false."))
        if self.kind is int:
            if isinstance(raw, int) and not isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.strip().lstrip("-").isdigit() and len(raw) < 19:
                return int(raw)
            raise ValueError(N_("Must be a whole number."))
        if not isinstance(raw, str):
            raise ValueError(N_("Must be text."))  # noqa: TRY004 (a field message, as the others)
        return raw


def _reason(exc: ValueError) -> str:
    """The message of a field's ``ValueError``, kept translatable when it is marked."""
    first = exc.args[0] if exc.args else None
    if isinstance(first, Message) and len(exc.args) == 1:
        return first
    return str(exc) or N_("Not a valid value.")


def _blank(raw: object) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def clean_fields(
    fields: Sequence[Field],
    data: Mapping[str, Any],
    *,
    partial: bool = False,
    refuse_unknown: Iterable[str] | None = None,
) -> dict[str, Any]:
    """The checked values of ``fields`` in ``data``; every problem at once.

    ``partial`` (``PATCH``): only the fields present, none required. ``refuse_unknown``:
    the names of ``data`` that must be declared fields (others are refused, IV-03).
    """
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    declared = {field.name for field in fields}
    for name in refuse_unknown or ():
        if name not in declared:
            errors[name] = [N_("This field cannot be changed here.")]
    for field in fields:
        present = field.name in data
        raw = data.get(field.name)
        if partial and not present:
            continue
        if _blank(raw) and field.kind is not bool:
            if field.required:
                errors[field.name] = [N_("This field is required.")]
            elif present:
                values[field.name] = None
            continue
        try:
            values[field.name] = field.clean(False if raw is None else raw)
        except ValueError as exc:
            errors[field.name] = [_reason(exc)]
    if errors:
        raise ValidationFailed(errors)
    return values


def read_field(user: Any, name: str) -> Any:
    """An application field of a user object (``MemoryUser`` keeps them in ``extra``)."""
    extra = getattr(user, "extra", None)
    if isinstance(extra, dict) and not hasattr(type(user), name):
        return extra.get(name)
    return getattr(user, name, None)
