"""Store capabilities: which groups of store methods a feature needs.

A capability is a protocol class of one face (``AsyncUsers`` / ``Users``...); a store
implements it by having every method. ``check_capabilities`` is how ``AsyncAuth`` / ``Auth``
refuse at start-up a feature whose store lacks one, naming the missing methods.
"""

from __future__ import annotations

from collections.abc import Iterable

from doorward.exceptions import ConfigurationError

__all__ = ["Capability", "check_capabilities", "missing_methods"]

#: A protocol class whose public methods a store must have.
Capability = type


def methods_of(capability: Capability) -> list[str]:
    """The method names a capability asks for, in declaration order."""
    return [
        name
        for name, value in vars(capability).items()
        if callable(value) and not name.startswith("_")
    ]


def missing_methods(store: object, capability: Capability) -> list[str]:
    """The methods of ``capability`` that ``store`` does not have."""
    return [name for name in methods_of(capability) if not callable(getattr(store, name, None))]


def check_capabilities(store: object, feature: str, needs: Iterable[Capability]) -> None:
    """Raise ``ConfigurationError`` naming what ``store`` lacks for ``feature``."""
    for capability in needs:
        missing = missing_methods(store, capability)
        if missing:
            raise ConfigurationError(
                f"the {feature!r} feature needs the store capability "
                f"{capability.__name__.removeprefix('Async')} but {type(store).__name__} "
                f"lacks {', '.join(missing)}; implement them or switch the feature off "
                f"(Settings(disabled_features=[{feature!r}]))"
            )
