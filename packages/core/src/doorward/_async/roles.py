"""Roles and permissions: named roles with permissions, given to users."""

from __future__ import annotations

from typing import Any

from doorward._async.feature import AsyncFeature
from doorward._async.protocols import AsyncRoles, AsyncUsers
from doorward.records import Role

__all__ = ["AsyncRoleChecks"]


class AsyncRoleChecks(AsyncFeature):
    """Roles: management for admins and the CLI, checks for guards; ``roles`` in ``/me``."""

    name = "roles"
    capabilities = (AsyncUsers, AsyncRoles)

    @property
    def _roles(self) -> AsyncRoles:
        store: AsyncRoles = self.ctx.store
        return store

    async def save_role(self, role: Role) -> Role:
        """Create the role, or replace its description and permissions."""
        return await self._roles.save_role(role)

    async def list_roles(self) -> list[Role]:
        """Every role, sorted by name."""
        return await self._roles.list_roles()

    async def delete_role(self, name: str) -> bool:
        """Delete a role and take it from everyone; ``False`` if there was none."""
        return await self._roles.delete_role(name)

    async def add_role(self, user: Any, name: str) -> bool:
        """Give a user a role (which must exist); ``False`` if they had it."""
        added: bool = await self._roles.add_user_role(user, name)
        if added:
            self.ctx.events.emit("role_added", user_id=str(user.id), role=name)
        return added

    async def remove_role(self, user: Any, name: str) -> bool:
        """Take a role away; ``False`` if they did not have it."""
        removed: bool = await self._roles.remove_user_role(user, name)
        if removed:
            self.ctx.events.emit("role_removed", user_id=str(user.id), role=name)
        return removed

    async def roles_of(self, user: Any) -> frozenset[str]:
        """The names of the user's roles."""
        return await self._roles.get_user_roles(user)

    async def permissions_of(self, user: Any) -> frozenset[str]:
        """The permissions the user's roles grant."""
        return await self._roles.get_user_permissions(user)

    async def has_roles(self, user: Any, *names: str) -> bool:
        """Whether the user has every one of the roles."""
        return set(names) <= await self.roles_of(user)

    async def has_any_role(self, user: Any, *names: str) -> bool:
        """Whether the user has at least one of the roles."""
        return bool(set(names) & await self.roles_of(user))

    async def has_permissions(self, user: Any, *names: str) -> bool:
        """Whether the user's roles grant every one of the permissions."""
        return set(names) <= await self.permissions_of(user)

    async def extend_user_json(self, user: Any, body: dict[str, Any]) -> None:
        """``GET /me`` lists the user's roles."""
        body["roles"] = sorted(await self.roles_of(user))
