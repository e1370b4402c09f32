"""The errors doorward raises, each with a stable machine ``code``.

Adapters map them to HTTP with one table (``DoorwardError.status``) and render
``{"error": {"code": ..., "message": ..., "fields": {...}}}``. Messages are written for
end users and never contain secrets, hashes, tokens or driver messages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from doorward.i18n import N_

__all__ = [
    "AccountLocked",
    "ConfigurationError",
    "CsrfFailed",
    "DoorwardError",
    "EmailTaken",
    "Forbidden",
    "IdentityTaken",
    "InvalidCredentials",
    "InvalidToken",
    "MfaEnrolmentRequired",
    "MfaRequired",
    "LastSignInMethod",
    "MailerUnavailable",
    "NotAuthenticated",
    "NotFound",
    "OAuthFailed",
    "Overloaded",
    "PasswordRejected",
    "PayloadTooLarge",
    "RateLimited",
    "ReauthRequired",
    "StoreUnavailable",
    "UnsupportedMediaType",
    "ValidationFailed",
    "WriteRefused",
]


class DoorwardError(Exception):
    """Base class of every error doorward raises on purpose.

    ``code`` is stable and documented; ``status`` is the HTTP status the adapters use.
    """

    code: str = "error"
    status: int = 400
    default_message: str = N_("The request could not be completed.")

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    @property
    def fields(self) -> Mapping[str, Sequence[str]]:
        """Field name → messages, for errors about specific inputs."""
        return MappingProxyType({})

    def to_dict(self) -> dict[str, object]:
        """The JSON error body of the HTTP contract."""
        body: dict[str, object] = {"code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = {k: list(v) for k, v in self.fields.items()}
        return {"error": body}


class ConfigurationError(DoorwardError, ValueError):
    """Settings are missing or unsafe. Raised at start-up, never at the first request."""

    code = "configuration_error"
    status = 500


class ValidationFailed(DoorwardError, ValueError):
    """One or more inputs are malformed; ``fields`` says which and why."""

    code = "validation_failed"
    status = 400
    default_message = N_("Some fields are not valid.")

    def __init__(self, fields: Mapping[str, Sequence[str]], message: str | None = None) -> None:
        self._fields = {k: tuple(v) for k, v in fields.items()}
        super().__init__(message)

    @property
    def fields(self) -> Mapping[str, Sequence[str]]:
        return MappingProxyType(self._fields)


class PasswordRejected(ValidationFailed):
    """The new password breaks the password policy; ``reasons`` says how."""

    code = "password_rejected"
    default_message = N_("This password cannot be used.")

    def __init__(self, reasons: Sequence[str], field: str = "password") -> None:
        self.reasons = tuple(reasons)
        super().__init__({field: self.reasons})


class InvalidCredentials(DoorwardError):
    """The identity and password do not match an active account.

    Deliberately the same for an unknown email, a wrong password, an inactive,
    unconfirmed or locked account (LE-01).
    """

    code = "invalid_credentials"
    status = 400
    default_message = N_("The email or password is not correct.")


class AccountLocked(InvalidCredentials):
    """Too many failed attempts. Only raised when neutral login errors are switched off."""

    code = "account_locked"
    status = 400
    default_message = N_("This account is temporarily locked.")

    def __init__(self, retry_after: float | None = None, message: str | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class MfaRequired(DoorwardError):
    """The password was right and the account asks for a second factor (MF-05).

    Not a failure: ``AsyncLogin.login`` raises it instead of starting a session.
    ``methods`` names the factors the user may answer with; ``token`` is the pending
    login's secret (the ``/login`` endpoint puts it in a short-lived cookie), which
    grants nothing but ``POST /login/mfa`` within ``max_age`` seconds.
    """

    code = "mfa_required"
    status = 200
    default_message = N_("Enter the code of your second factor.")

    def __init__(self, methods: Sequence[str], token: str, max_age: int) -> None:
        self.methods = tuple(methods)
        self.token = token
        self.max_age = max_age
        super().__init__()


class EmailTaken(DoorwardError):
    """A store refused to create or move an account to an address already in use.

    Flows turn this into a neutral response where the contract demands it (LE-04).
    """

    code = "email_taken"
    status = 409
    default_message = N_("This email address is already in use.")


class IdentityTaken(DoorwardError):
    """A store refused to link a provider account that is already linked (to anyone)."""

    code = "identity_taken"
    status = 409
    default_message = N_("This account of the provider is already linked.")


class OAuthFailed(DoorwardError):
    """Signing in with a provider did not work; the cause is logged, never shown (OA-03)."""

    code = "oauth_failed"
    status = 400
    default_message = N_("Signing in with this provider did not work. Please try again.")


class LastSignInMethod(DoorwardError):
    """Unlinking this provider would leave the account with no way to sign in (OA-04)."""

    code = "last_sign_in_method"
    status = 400
    default_message = N_(
        "This is the only way to sign in to your account: set a password or link another "
        "provider first."
    )


class InvalidToken(DoorwardError, ValueError):
    """A token is malformed, forged, expired, already used or meant for another purpose."""

    code = "invalid_token"
    status = 400
    default_message = N_("This link or token is invalid or has expired.")


class NotAuthenticated(DoorwardError):
    """The request needs a logged-in user."""

    code = "not_authenticated"
    status = 401
    default_message = N_("Authentication is required.")


class ReauthRequired(DoorwardError):
    """The action needs a recent password entry (a fresh login)."""

    code = "reauth_required"
    status = 401
    default_message = N_("Please confirm your password to continue.")


class Forbidden(DoorwardError):
    """The user is known but lacks a role, permission or CSRF token."""

    code = "forbidden"
    status = 403
    default_message = N_("You are not allowed to do this.")


class MfaEnrolmentRequired(Forbidden):
    """The site requires a second factor of this user, who has none yet: enrol at /mfa."""

    code = "mfa_enrolment_required"
    default_message = N_("Set up two-factor authentication to continue.")


class CsrfFailed(Forbidden):
    """An unsafe cookie-authenticated request lacks a valid CSRF token (CR-01)."""

    code = "csrf_failed"
    default_message = N_("The form has expired or the request is forged. Please try again.")


class UnsupportedMediaType(DoorwardError):
    """A request body in a content type the endpoint does not take (CR-03)."""

    code = "unsupported_media_type"
    status = 415
    default_message = N_("Send JSON or a form.")


class PayloadTooLarge(DoorwardError):
    """A request body over ``Settings.max_body_size``."""

    code = "payload_too_large"
    status = 413
    default_message = N_("The request is too large.")


class NotFound(DoorwardError, LookupError):
    """The addressed record does not exist (or is not the caller's)."""

    code = "not_found"
    status = 404
    default_message = N_("Not found.")


class RateLimited(DoorwardError):
    """Too many requests for this key; ``retry_after`` is in seconds."""

    code = "rate_limited"
    status = 429
    default_message = N_("Too many requests. Please wait and try again.")

    def __init__(self, retry_after: float, message: str | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class Overloaded(DoorwardError):
    """The password hasher's queue is full; the request is shed, not queued forever."""

    code = "overloaded"
    status = 503
    default_message = N_("The service is busy. Please try again shortly.")


class StoreUnavailable(DoorwardError):
    """The user store could not be reached or failed. Nothing was half-written."""

    code = "store_unavailable"
    status = 503
    default_message = N_("The service is temporarily unavailable.")


class WriteRefused(DoorwardError):
    """The database refused a write for a reason other than a taken email (a NOT NULL,
    foreign-key or check constraint, another unique index). Nothing was written; the
    store logged the constraint at ERROR. Retrying will not help: the app's model or
    database needs a fix, so this is a 500, never a success and never "email taken".

    .. versionadded:: 0.2
    """

    code = "write_refused"
    status = 500
    default_message = N_("The change could not be saved. The site's administrators were told.")


class MailerUnavailable(DoorwardError):
    """The mailer could not send. Raised only where the caller must know."""

    code = "mailer_unavailable"
    status = 503
    default_message = N_("Email could not be sent. Please try again later.")
