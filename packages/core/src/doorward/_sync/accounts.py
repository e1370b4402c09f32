# Generated from packages/core/src/doorward/_async/accounts.py by scripts/unasync.py. Do not edit: edit the source.
"""Accounts as an administrator sees them: create, find, activate, deactivate, delete."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from doorward._sync.feature import Feature
from doorward._sync.protocols import Users
from doorward._sync.roles import RoleChecks
from doorward.exceptions import EmailTaken
from doorward.importing import ImportedUser, ImportReport
from doorward.policies import normalize_email
from doorward.records import NewUser
from doorward.tokens import new_stamp

__all__ = ["Accounts"]


class Accounts(Feature):
    """The admin's flows (the CLI uses them); no endpoints. Always on."""

    name = "accounts"
    capabilities = (Users,)

    def create_user(
        self,
        email: object,
        password: object | None = None,
        *,
        confirmed: bool = False,
        active: bool = True,
        roles: Iterable[str] = (),
        extra: Mapping[str, Any] | None = None,
        password_hash: str | None = None,
    ) -> Any:
        """Create an account directly (CLI, admin); raises ``EmailTaken``. No mail is sent.

        ``password_hash`` stores a hash made elsewhere (an import from another library,
        verified by a ``doorward.legacy.LegacyHasher`` and replaced at the first login)
        instead of hashing ``password``.
        """
        ctx = self.ctx
        address, key = normalize_email(email, max_length=self.settings.email_max_length)
        if password is not None and password_hash is not None:
            raise ValueError("give a password or a password_hash, not both")
        if password is not None:
            password_hash = ctx.new_password_hash(password, address)
        now = ctx.clock.now()
        user = self.store.create_user(
            NewUser(
                email=address,
                normalized_email=key,
                password_hash=password_hash,
                security_stamp=new_stamp(),
                created_at=now,
                active=active,
                confirmed_at=now if confirmed else None,
                extra=dict(extra or {}),
            )
        )
        names = list(roles)
        if names:
            role_checks = ctx.feature(RoleChecks)
            for name in names:
                role_checks.add_role(user, name)
        ctx.events.emit("user_registered", user=user, user_id=str(user.id), by="admin")
        return user

    def import_users(self, users: Iterable[ImportedUser]) -> ImportReport:
        """Create the accounts of an export (``doorward.importing.read_users``) with their
        old hashes; an address that already has an account is skipped, never changed."""
        report = ImportReport()
        for imported in users:
            try:
                self.create_user(
                    imported.email,
                    password_hash=imported.password_hash,
                    confirmed=imported.confirmed,
                    active=imported.active,
                    roles=imported.roles,
                    extra=imported.extra,
                )
            except EmailTaken:
                report.taken.append(imported.line)
            else:
                report.created += 1
        return report

    def get_user(self, user_id: str) -> Any | None:
        """The user with this id, or ``None``."""
        return self.store.get_user(user_id)

    def get_user_by_email(self, email: object) -> Any | None:
        """The user with this address (normalised the same way as at registration)."""
        _, key = normalize_email(email, max_length=self.settings.email_max_length)
        return self.store.get_user_by_email(key)

    def set_active(self, user: Any, active: bool) -> Any:
        """Activate or deactivate; deactivation ends every session and token now (SS-06)."""
        ctx = self.ctx
        if active:
            user = self.store.update_user(user, {"active": True})
            ctx.events.emit("user_activated", user_id=str(user.id))
            return user
        user = ctx.rotate_stamp(user, {"active": False})
        ctx.forget_credentials(user)
        ctx.events.emit("user_deactivated", user_id=str(user.id))
        return user

    def delete_user(self, user: Any) -> None:
        """Delete the account with its roles and credentials."""
        self.store.delete_user(user)
        self.ctx.events.emit("user_deleted", user_id=str(user.id))
