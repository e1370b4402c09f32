# Generated from packages/core/src/doorward/_async/roles.py by scripts/unasync.py. Do not edit: edit the source.
"""Roles and permissions: named roles with permissions, given to users."""

from __future__ import annotations

from typing import Any

from doorward._sync.feature import Feature
from doorward._sync.protocols import Roles, Users
from doorward.records import Role

__all__ = ["RoleChecks"]


class RoleChecks(Feature):
    """Roles: management for admins and the CLI, checks for guards; ``roles`` in ``/me``."""

    name = "roles"
    capabilities = (Users, Roles)

    @property
    def _roles(self) -> Roles:
        store: Roles = self.ctx.store
        return store

    def save_role(self, role: Role) -> Role:
        """Create the role, or replace its description and permissions."""
        return self._roles.save_role(role)

    def list_roles(self) -> list[Role]:
        """Every role, sorted by name."""
        return self._roles.list_roles()

    def delete_role(self, name: str) -> bool:
        """Delete a role and take it from everyone; ``False`` if there was none."""
        return self._roles.delete_role(name)

    def add_role(self, user: Any, name: str) -> bool:
        """Give a user a role (which must exist); ``False`` if they had it."""
        added: bool = self._roles.add_user_role(user, name)
        if added:
            self.ctx.events.emit("role_added", user_id=str(user.id), role=name)
        return added

    def remove_role(self, user: Any, name: str) -> bool:
        """Take a role away; ``False`` if they did not have it."""
        removed: bool = self._roles.remove_user_role(user, name)
        if removed:
            self.ctx.events.emit("role_removed", user_id=str(user.id), role=name)
        return removed

    def roles_of(self, user: Any) -> frozenset[str]:
        """The names of the user's roles."""
        return self._roles.get_user_roles(user)

    def permissions_of(self, user: Any) -> frozenset[str]:
        """The permissions the user's roles grant."""
        return self._roles.get_user_permissions(user)

    def has_roles(self, user: Any, *names: str) -> bool:
        """Whether the user has every one of the roles."""
        return set(names) <= self.roles_of(user)

    def has_any_role(self, user: Any, *names: str) -> bool:
        """Whether the user has at least one of the roles."""
        return bool(set(names) & self.roles_of(user))

    def has_permissions(self, user: Any, *names: str) -> bool:
        """Whether the user's roles grant every one of the permissions."""
        return set(names) <= self.permissions_of(user)

    def extend_user_json(self, user: Any, body: dict[str, Any]) -> None:
        """``GET /me`` lists the user's roles."""
        body["roles"] = sorted(self.roles_of(user))
