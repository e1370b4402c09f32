# Generated from packages/core/src/doorward/_async/passwordless.py by scripts/unasync.py. Do not edit: edit the source.
"""Sign in without a password: an emailed code and, in the same mail, a sign-in link.

``request_code`` mails an 8-character code from an unambiguous alphabet (PL-01) and a
``/login/link/<token>`` link (PL-02); the answer is the same whether the address has an
account or not. ``verify_code`` checks the code in constant time, once, within
``sign_in_code_max_age`` and before ``sign_in_code_attempts`` wrong tries; the link's GET
shows a button and its POST signs in, once, within ``sign_in_link_max_age``, bound to the
account's security stamp. Both confirm an unconfirmed address (the mail proved it) and
both go through ``Login.sign_in``, so a second factor is still asked (MF-08).
The feature is off unless ``Settings.sign_in_by_email`` is set.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any, Protocol
from urllib.parse import urlencode

from doorward._sync.feature import Feature
from doorward._sync.login import Login
from doorward._sync.protocols import Credentials, Users
from doorward.capabilities import Capability
from doorward.exceptions import InvalidCredentials, InvalidToken
from doorward.http import HttpResponse
from doorward.i18n import N_
from doorward.policies import normalize_email
from doorward.records import SignInCode
from doorward.routing import endpoint
from doorward.web import Call

__all__ = ["CODE_ALPHABET", "Passwordless", "SignInCodes"]

#: 32 symbols of ``[A-Z0-9]`` without 0/O and 1/I: 8 of them are 40 bits, read without doubt.
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 8
CODE_SENT = N_("If this address has an account, we sent it a sign-in code and link.")
#: Every refused code, whatever the reason (unknown address, wrong, used or expired code).
CODE_REFUSED = N_("The email or code is not correct, or the code has expired.")
#: The user id a code request for an unknown address works with (LE-07: equal work).
_NOBODY = "-"


def new_code() -> str:
    """A random code of ``CODE_LENGTH`` symbols of ``CODE_ALPHABET``."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def typed_code(code: object) -> str | None:
    """The code as typed, without spaces and dashes, upper case; ``None`` if it is none."""
    if not isinstance(code, str) or len(code) > 32:
        return None
    text = "".join(code.split()).replace("-", "").upper()
    if len(text) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in text):
        return None
    return text


class SignInCodes(Protocol):
    """The sign-in codes capability: emailed one-time codes and links (PL-01, PL-02).

    ``delete_user`` deletes the user's code too.
    ``doorward.testing.SignInCodesContract`` checks every rule below.
    """

    def create_sign_in_code(self, code: SignInCode) -> None:
        """Store the code in place of the user's earlier ones (one per user, atomically).

        ``NotFound`` when the user is not stored.
        """

    def get_sign_in_code(self, user_id: str) -> SignInCode | None:
        """The user's code, expired or not, or ``None``."""

    def fail_sign_in_code(self, code_id: str) -> int:
        """Count one wrong try, atomically; the count after it (0 if the code is gone).

        One conditional update (``UPDATE ... SET attempts = attempts + 1 WHERE id = ?``):
        concurrent wrong tries each count.
        """

    def use_sign_in_code(self, code_id: str, max_attempts: int) -> bool:
        """Delete the code if fewer than ``max_attempts`` wrong tries were counted.

        ``True`` only to the call whose delete removed it (``DELETE ... WHERE id = ? AND
        attempts < :max``): of concurrent uses exactly one wins, and none after the limit.
        """

    def delete_sign_in_codes(self, user_id: str) -> int:
        """Delete the user's code(s); return how many."""


class Passwordless(Feature):
    """``/login/code``, ``/login/code/verify`` and ``/login/link/{token}``."""

    name = "passwordless"
    capabilities: tuple[Capability, ...] = (Users, Credentials, SignInCodes)
    mails = ("sign_in_code",)
    mail_placeholders = frozenset({"code", "minutes"})
    notices = {  # noqa: RUF012 (read-only class data)
        "code_sent": CODE_SENT,
    }

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self._keys = [
            hmac.new(key.encode(), b"doorward.sign-in-code", hashlib.sha256).digest()
            for key in reversed(self.settings.secret_keys)
        ]
        if self.wanted():
            self.web.page_context["sign_in_by_email"] = True

    def wanted(self) -> bool:
        """On only when ``Settings.sign_in_by_email`` is set."""
        return self.settings.sign_in_by_email

    @property
    def login_feature(self) -> Login:
        """The login feature, which signs the user in."""
        return self.ctx.feature(Login)

    def _hash(self, key: bytes, user_id: str, code: str) -> str:
        return hmac.new(key, f"{user_id}:{code}".encode(), hashlib.sha256).hexdigest()

    # -- flows -------------------------------------------------------------------------------

    def request_code(self, email: object, *, ip: str | None = None) -> None:
        """Mail a code and a link to an address with an active account; same answer either way.

        Equal work on both paths (LE-07): the code, its hash, the link token, one store
        write (the code, or a delete that finds nothing), the mail limiter and rendering.
        """
        ctx = self.ctx
        ctx.limit("login_code", ip)
        address, key = normalize_email(email, max_length=self.settings.email_max_length)
        found = self.store.get_user_by_email(key)
        user = found if found is not None and found.active else None
        ctx.events.emit("sign_in_code_requested", ip=ip)
        now = ctx.clock.now()
        code = new_code()
        user_id = str(user.id) if user is not None else _NOBODY
        record = SignInCode(
            id="s" + secrets.token_urlsafe(12),
            user_id=user_id,
            secret_hash=self._hash(self._keys[0], user_id, code),
            stamp=user.security_stamp if user is not None else "",
            created_at=now,
            expires_at=now + self.settings.sign_in_link_max_age,
        )
        token = ctx.tokens.dumps(
            "sign_in", record.user_id, record.stamp or secrets.token_urlsafe(24), record.id
        )
        minutes = int(self.settings.sign_in_code_max_age.total_seconds() // 60)
        with ctx.change_and_mail():  # on both paths (LE-07)
            if user is not None:
                self.store.create_sign_in_code(record)
            else:
                self.store.delete_sign_in_codes(_NOBODY)
            ctx.mail(
                "sign_in_code",
                user.email if user is not None else address,
                link=self.settings.url(f"/login/link/{token}"),
                values={"code": f"{code[:4]}-{code[4:]}", "minutes": str(minutes)},
                decoy=user is None,
            )

    def verify_code(self, email: object, code: object, *, ip: str | None = None) -> Any:
        """The user whose emailed code this is, the code used up (PL-01); else refused.

        Every refusal is ``InvalidCredentials``: unknown address, no code, a wrong, used,
        expired or exhausted code look the same. A wrong code counts against the code.
        """
        ctx = self.ctx
        ctx.limit("login_code_verify", ip)
        _, key = normalize_email(email, max_length=self.settings.email_max_length)
        user = self.store.get_user_by_email(key)
        record = self.store.get_sign_in_code(str(user.id)) if user is not None else None
        text = typed_code(code)
        if user is None or record is None:
            ctx.events.emit("sign_in_code_failed", reason="no_code", ip=ip)
            raise InvalidCredentials(CODE_REFUSED)
        now = ctx.clock.now()
        matched = text is not None and self._matches(record, text)
        live = (
            now < record.created_at + self.settings.sign_in_code_max_age
            and record.stamp == user.security_stamp
            and user.active
        )
        if not matched:
            self.store.fail_sign_in_code(record.id)
            ctx.events.emit("sign_in_code_failed", user_id=str(user.id), reason="code", ip=ip)
            raise InvalidCredentials(CODE_REFUSED)
        if not live or not self.store.use_sign_in_code(
            record.id, self.settings.sign_in_code_attempts
        ):
            ctx.events.emit("sign_in_code_failed", user_id=str(user.id), reason="dead", ip=ip)
            raise InvalidCredentials(CODE_REFUSED)
        return self._proven(user, ip)

    def _matches(self, record: SignInCode, text: str) -> bool:
        """Whether ``text`` is the record's code, compared in constant time under each key."""
        results = [
            hmac.compare_digest(record.secret_hash, self._hash(key, record.user_id, text))
            for key in self._keys
        ]
        return any(results)

    def check_link(self, token: object, *, ip: str | None = None) -> tuple[Any, SignInCode]:
        """The user and live code of a sign-in link, without using it (``InvalidToken``)."""
        ctx = self.ctx
        ctx.limit("token", ip)
        payload = ctx.load_token("sign_in", token, self.settings.sign_in_link_max_age)
        if len(payload) != 3:
            raise InvalidToken
        user_id, stamp_print, code_print = payload
        user = self.store.get_user(user_id)
        if user is None or not user.active:
            raise InvalidToken
        record = self.store.get_sign_in_code(user_id)
        if (
            record is None
            or not ctx.tokens.matches(stamp_print, user.security_stamp)
            or not ctx.tokens.matches(code_print, record.id)
            or record.stamp != user.security_stamp
            or ctx.clock.now() >= record.expires_at
        ):
            raise InvalidToken
        return user, record

    def use_link(self, token: object, *, ip: str | None = None) -> Any:
        """The user of a sign-in link, the link used up (PL-02); ``InvalidToken`` if dead."""
        user, record = self.check_link(token, ip=ip)
        if not self.store.use_sign_in_code(record.id, self.settings.sign_in_code_attempts):
            raise InvalidToken
        return self._proven(user, ip)

    def _proven(self, user: Any, ip: str | None) -> Any:
        """The mail proved the address: confirm it if it was not."""
        self.ctx.events.emit("sign_in_code_used", user_id=str(user.id), ip=ip)
        if user.confirmed_at is None:
            user = self.store.update_user(user, {"confirmed_at": self.ctx.clock.now()})
            self.ctx.events.emit("email_confirmed", user=user, user_id=str(user.id))
        return user

    # -- endpoints -------------------------------------------------------------------------

    @endpoint("GET", "/login/code", json=False)
    def code_page(self, call: Call) -> HttpResponse:
        """The form asking for a sign-in code."""
        return self.web.page(call.request, "doorward/login_code.html")

    @endpoint(
        "POST",
        "/login/code",
        limit="login_code",
        form="doorward/login_code.html",
        body={"email": str, "next": str},
        required=("email",),
        status=202,
    )
    def code_submit(self, call: Call) -> HttpResponse:
        """Mail a code and a link (neutral 202; browsers go to the code form)."""
        self.request_code(call.field("email"), ip=call.ip)
        if call.as_json:
            return HttpResponse(status=202, json={"message": CODE_SENT})
        query = {"email": str(call.field("email")), "notice": "code_sent"}
        target = self.web.next_target(call, "")
        if target:
            query["next"] = target
        return HttpResponse(
            status=303, redirect=f"{self.settings.url_prefix}/login/code/verify?{urlencode(query)}"
        )

    @endpoint("GET", "/login/code/verify", json=False)
    def verify_page(self, call: Call) -> HttpResponse:
        """The form taking the emailed code."""
        email = call.request.query.get("email", "")
        return self.web.page(
            call.request, "doorward/login_code_verify.html", form={"email": email[:254]}
        )

    @endpoint(
        "POST",
        "/login/code/verify",
        limit="login_code_verify",
        form="doorward/login_code_verify.html",
        body={"email": str, "code": str, "next": str},
        required=("email", "code"),
    )
    def verify_submit(self, call: Call) -> HttpResponse:
        """The emailed code → a session (or the second step, MF-08)."""
        user = self.verify_code(call.field("email"), call.field("code"), ip=call.ip)
        return self.login_feature.sign_in(call, user)

    @endpoint("GET", "/login/link/{token}")
    def link_page(self, call: Call) -> HttpResponse:
        """The page with the sign-in button (GET changes nothing: mail scanners, PL-02)."""
        if call.as_json:
            return HttpResponse(json={"token": "unchecked", "method": "POST"})
        return self.web.page(call.request, "doorward/login_link.html", token=call.params["token"])

    @endpoint("POST", "/login/link/{token}", limit="token", form="doorward/login_link.html")
    def link_submit(self, call: Call) -> HttpResponse:
        """Sign in with the link, once (or the second step, MF-08)."""
        user = self.use_link(call.params["token"], ip=call.ip)
        return self.login_feature.sign_in(call, user)
