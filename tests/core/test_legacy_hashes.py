"""Hashes made at test time by Flask-Security-Too, Django, pwdlib and bcrypt: users log in with
their old password, are rehashed to argon2id, and every attempt costs exactly one hash."""

import asyncio
import functools
import hashlib
import sys
import threading
import time
import unicodedata
from datetime import UTC, datetime

import argon2
import bcrypt
import pytest
from django.conf import settings as django_settings
from flask import Flask
from flask_security import RoleMixin, Security, UserDatastore, UserMixin, hash_password
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher as PwdlibArgon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher as PwdlibBcryptHasher

from doorward import AsyncAuth, AsyncMemoryStore, Auth, MemoryStore
from doorward._async.mailers import AsyncOutbox
from doorward._sync.mailers import Outbox
from doorward.clock import FrozenClock
from doorward.exceptions import ConfigurationError, InvalidCredentials, Overloaded
from doorward.hashing import Argon2Hasher
from doorward.legacy import (
    AsyncLegacyHasher,
    BcryptVerifier,
    DjangoVerifier,
    FlaskSecurityVerifier,
    LegacyHasher,
    Limits,
)
from doorward.settings import Argon2Params, Settings

FAST = Argon2Params.insecure_for_tests()
PASSWORD = "correct horse café staple"  # é precomposed: NFKC keeps it, NFKD splits it
WRONG = "correct horse cafe staple"
EMAIL = "migrated@example.com"
SALT = "the old site's SECURITY_PASSWORD_SALT"
SECRET = "legacy-tests-secret-key-0123456789abcdef"
DJANGO_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.BCryptPasswordHasher",
]


# -- hashes made by the real libraries ------------------------------------------------------


class _FsUser(UserMixin):
    fs_uniquifier = None


class _FsRole(RoleMixin):
    pass


def flask_security_hash(password, scheme, **config):
    """What Flask-Security-Too stores for ``password`` after its form normalised it."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=SECRET,
        SECURITY_PASSWORD_SALT=SALT,
        SECURITY_PASSWORD_HASH=scheme,
        SECURITY_PASSWORD_HASH_PASSLIB_OPTIONS={"bcrypt__rounds": 4},
        **config,
    )
    Security(app, UserDatastore(_FsUser, _FsRole), register_blueprint=False)
    with app.app_context():
        normalized = app.extensions["security"].password_util.normalize(password)
        return hash_password(normalized)


def django_hash(password, algorithm):
    """Django's ``make_password``: default costs for pbkdf2_sha256 and argon2, lower for the rest."""
    if not django_settings.configured:
        django_settings.configure(PASSWORD_HASHERS=DJANGO_HASHERS)
    from django.contrib.auth import hashers

    cheaper = {
        "pbkdf2_sha1": type("Sha1", (hashers.PBKDF2SHA1PasswordHasher,), {"iterations": 10_000}),
        "bcrypt_sha256": type("Sha256", (hashers.BCryptSHA256PasswordHasher,), {"rounds": 4}),
        "bcrypt": type("Bcrypt", (hashers.BCryptPasswordHasher,), {"rounds": 4}),
    }
    hasher = cheaper[algorithm]() if algorithm in cheaper else algorithm
    return hashers.make_password(password, hasher=hasher)


def fs():
    return [FlaskSecurityVerifier(SALT)]


SOURCES = {
    "flask_security_argon2": (lambda pw: flask_security_hash(pw, "argon2"), fs),
    "flask_security_bcrypt": (lambda pw: flask_security_hash(pw, "bcrypt"), fs),
    "flask_security_pbkdf2_sha512": (lambda pw: flask_security_hash(pw, "pbkdf2_sha512"), fs),
    "flask_security_pbkdf2_sha256": (lambda pw: flask_security_hash(pw, "pbkdf2_sha256"), fs),
    "flask_security_single_hash_bcrypt": (
        lambda pw: flask_security_hash(pw, "bcrypt", SECURITY_PASSWORD_SINGLE_HASH=True),
        lambda: [FlaskSecurityVerifier(None, single_hash=True)],
    ),
    "flask_security_single_hash_argon2": (
        lambda pw: flask_security_hash(pw, "argon2", SECURITY_PASSWORD_SINGLE_HASH=True),
        lambda: [FlaskSecurityVerifier(None, single_hash=True)],
    ),
    "flask_security_django_pbkdf2_sha256": (
        lambda pw: flask_security_hash(
            pw,
            "django_pbkdf2_sha256",
            SECURITY_PASSWORD_SCHEMES=["django_pbkdf2_sha256", "argon2", "plaintext"],
        ),
        lambda: [FlaskSecurityVerifier(SALT, schemes=["argon2", "django_pbkdf2_sha256"])],
    ),
    "django_pbkdf2_sha256": (lambda pw: django_hash(pw, "pbkdf2_sha256"), DjangoVerifier),
    "django_pbkdf2_sha1": (lambda pw: django_hash(pw, "pbkdf2_sha1"), DjangoVerifier),
    "django_argon2": (lambda pw: django_hash(pw, "argon2"), DjangoVerifier),
    "django_bcrypt_sha256": (lambda pw: django_hash(pw, "bcrypt_sha256"), DjangoVerifier),
    "django_bcrypt": (lambda pw: django_hash(pw, "bcrypt"), DjangoVerifier),
    "pwdlib_argon2": (lambda pw: PasswordHash((PwdlibArgon2Hasher(),)).hash(pw), list),
    "pwdlib_bcrypt": (
        lambda pw: PasswordHash((PwdlibBcryptHasher(rounds=4),)).hash(pw),
        BcryptVerifier,
    ),
    "bcrypt_2b": (
        lambda pw: bcrypt.hashpw(pw.encode(), bcrypt.gensalt(4)).decode(),
        BcryptVerifier,
    ),
    "bcrypt_2a": (
        lambda pw: bcrypt.hashpw(pw.encode(), bcrypt.gensalt(4, b"2a")).decode(),
        BcryptVerifier,
    ),
}


@functools.cache
def legacy_hash(source, password=PASSWORD):
    return SOURCES[source][0](password)


def verifiers_for(source):
    made = SOURCES[source][1]()
    return made if isinstance(made, list) else [made]


# -- the flows ----------------------------------------------------------------------------


def doorward_settings(**overrides):
    return Settings(
        secret_keys=SECRET,
        base_url="https://auth.example.com",
        argon2=FAST,
        max_concurrent_hashes=2,
        **overrides,
    )


def make_auth(verifiers):
    settings = doorward_settings()
    store = MemoryStore()
    hasher = LegacyHasher.from_settings(settings, verifiers)
    clock = FrozenClock(datetime(2030, 1, 1, tzinfo=UTC))
    return Auth(settings, store, mailer=Outbox(), hasher=hasher, clock=clock), store


def migrated_user(auth, store, stored_hash):
    """A confirmed user whose password hash is the one brought from the old site."""
    user = auth.create_user(EMAIL, confirmed=True)
    return store.update_user(user, {"password_hash": stored_hash})


@pytest.fixture
def computations(monkeypatch):
    """Records every password-hash computation: bcrypt, PBKDF2 and argon2 (verify or hash)."""
    seen = []

    def counting(name, real):
        def wrapper(*args, **kwargs):
            seen.append(name)
            return real(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(bcrypt, "checkpw", counting("bcrypt", bcrypt.checkpw))
    monkeypatch.setattr(hashlib, "pbkdf2_hmac", counting("pbkdf2", hashlib.pbkdf2_hmac))
    for method in ("verify", "hash"):
        real = getattr(argon2.PasswordHasher, method)
        monkeypatch.setattr(argon2.PasswordHasher, method, counting(f"argon2 {method}", real))
    return seen


@pytest.mark.parametrize("source", SOURCES)
def test_pw07_legacy_hash_is_rehashed_to_argon2id_on_login(source):
    """The old password logs in, a wrong one fails, and the stored hash becomes argon2id."""
    stored = legacy_hash(source)
    auth, store = make_auth(verifiers_for(source))
    user = migrated_user(auth, store, stored)
    with pytest.raises(InvalidCredentials):
        auth.login(EMAIL, WRONG)
    assert stored == store.get_user(str(user.id)).password_hash
    auth.login(EMAIL, PASSWORD)
    rehashed = store.get_user(str(user.id)).password_hash
    assert rehashed.startswith("$argon2id$")
    assert not auth.hasher.needs_rehash(rehashed)
    auth.login(EMAIL, PASSWORD)
    assert rehashed == store.get_user(str(user.id)).password_hash


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "source",
    ["flask_security_argon2", "django_pbkdf2_sha256", "django_bcrypt_sha256", "pwdlib_bcrypt"],
)
async def test_pw07_async_legacy_hash_is_rehashed_to_argon2id_on_login(source):
    """Through AsyncAuth the old password logs in, a wrong one fails, and argon2id is stored."""
    stored = legacy_hash(source)
    settings = doorward_settings()
    store = AsyncMemoryStore()
    hasher = AsyncLegacyHasher.from_settings(settings, verifiers_for(source))
    auth = AsyncAuth(settings, store, mailer=AsyncOutbox(), hasher=hasher)
    user = await auth.create_user(EMAIL, confirmed=True)
    await store.update_user(user, {"password_hash": stored})
    with pytest.raises(InvalidCredentials):
        await auth.login(EMAIL, WRONG)
    await auth.login(EMAIL, PASSWORD)
    rehashed = (await store.get_user(str(user.id))).password_hash
    assert rehashed.startswith("$argon2id$")
    assert not hasher.needs_rehash(rehashed)


def test_pw07_pwdlib_argon2_at_doorwards_costs_is_kept_and_other_costs_are_rehashed():
    """pwdlib's argon2id hashes are doorward's own format: kept at equal costs, replaced otherwise."""
    stored = legacy_hash("pwdlib_argon2")
    same_costs = LegacyHasher(Argon2Hasher(Argon2Params()), [BcryptVerifier()])
    assert same_costs.verify(stored, PASSWORD)
    assert not same_costs.needs_rehash(stored)
    other_costs = LegacyHasher(Argon2Hasher(FAST), [BcryptVerifier()])
    assert other_costs.verify(stored, PASSWORD)
    assert other_costs.needs_rehash(stored)


def test_flask_security_password_typed_in_another_unicode_form_still_logs_in():
    """A password Flask-Security-Too stored in NFKD verifies when typed composed or with ligatures."""
    typed_then = "ﬁne Ｃａｆé passphrase"
    stored = flask_security_hash(typed_then, "argon2")
    auth, store = make_auth(fs())
    migrated_user(auth, store, stored)
    auth.login(EMAIL, unicodedata.normalize("NFC", typed_then))


# -- LE-02: one hash per attempt on every path -------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
def test_le02_each_refused_legacy_login_computes_exactly_one_hash(source, computations):
    """A wrong password against a legacy hash costs one computation of that hash, nothing else."""
    stored = legacy_hash(source)
    auth, store = make_auth(verifiers_for(source))
    migrated_user(auth, store, stored)
    computations.clear()
    with pytest.raises(InvalidCredentials):
        auth.login(EMAIL, WRONG)
    assert len(computations) == 1


def test_le02_successful_legacy_login_verifies_once_then_hashes_argon2id_once(computations):
    """A login on a legacy hash runs one legacy verification and one new argon2id hash."""
    auth, store = make_auth([DjangoVerifier()])
    migrated_user(auth, store, legacy_hash("django_pbkdf2_sha256"))
    computations.clear()
    auth.login(EMAIL, PASSWORD)
    assert computations == ["pbkdf2", "argon2 hash"]


@pytest.mark.parametrize(
    "stored",
    [
        "$1$saltsalt$e7fYkyvpYBBzRtA3cQFdM0",
        "md5$salt$5d41402abc4b2a76b9719d911017c592",
        "scrypt$16384$salt$8$1$aGFzaA==",
        "plain text password",
        "",
        "pbkdf2_sha256$1000$salt$not base64!",
        "bcrypt_sha256$$2b$04$tooshort",
        "argon2$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
    ],
    ids=[
        "md5crypt",
        "django_md5",
        "django_scrypt",
        "plaintext",
        "empty",
        "bad_base64",
        "bad_bcrypt",
        "short_salt",
    ],
)
def test_le02_unknown_or_malformed_hash_is_refused_after_one_computation(stored, computations):
    """A hash no verifier can check is refused after one argon2id computation and marked for rehash."""
    hasher = LegacyHasher(Argon2Hasher(FAST), [FlaskSecurityVerifier(SALT), DjangoVerifier()])
    hasher.verify(None, "prime the dummy hash")
    computations.clear()
    assert not hasher.verify(stored, PASSWORD)
    assert computations == ["argon2 verify"]
    assert hasher.needs_rehash(stored)


def test_le02_unknown_user_costs_one_computation_with_a_legacy_hasher(computations):
    """Logging in as nobody costs the same one argon2id computation as without legacy support."""
    auth, _ = make_auth([DjangoVerifier(), BcryptVerifier()])
    auth.hasher.verify(None, "prime the dummy hash")
    computations.clear()
    with pytest.raises(InvalidCredentials):
        auth.login("nobody@example.com", PASSWORD)
    assert computations == ["argon2 verify"]


# -- PW-08: stored costs capped before verify --------------------------------------------


OVER_THE_LIMITS = {
    "bcrypt_cost_17": ("$2b$17$" + "a" * 53, BcryptVerifier),
    "django_bcrypt_sha256_cost_20": ("bcrypt_sha256$$2b$20$" + "a" * 53, DjangoVerifier),
    "django_pbkdf2_3m_iterations": ("pbkdf2_sha256$3000000$salt$" + "A" * 43 + "=", DjangoVerifier),
    "django_argon2_4gib": (
        "argon2$argon2id$v=19$m=4194304,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
        DjangoVerifier,
    ),
    "flask_security_pbkdf2_3m_rounds": (
        "$pbkdf2-sha512$3000000$c29tZXNhbHRzb21lc2FsdA$" + "a" * 86,
        lambda: FlaskSecurityVerifier(SALT),
    ),
    "flask_security_argon2_4gib": (
        "$argon2id$v=19$m=4194304,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
        lambda: FlaskSecurityVerifier(
            SALT, argon2_params=[Argon2Params(memory_cost=4194304, time_cost=3, parallelism=4)]
        ),
    ),
}


@pytest.mark.parametrize("case", OVER_THE_LIMITS)
def test_pw08_legacy_hash_over_the_limits_is_refused_without_computing_it(case, computations):
    """A stored legacy hash asking for too much work fails fast, with only the argon2id dummy computed."""
    stored, make = OVER_THE_LIMITS[case]
    auth, store = make_auth([make()])
    migrated_user(auth, store, stored)
    auth.hasher.verify(None, "prime the dummy hash")
    computations.clear()
    started = time.perf_counter()
    with pytest.raises(InvalidCredentials):
        auth.login(EMAIL, PASSWORD)
    assert time.perf_counter() - started < 1
    assert computations == ["argon2 verify"]


def test_pw08_limits_are_configurable_per_verifier(computations):
    """A PBKDF2 limit below Django's default refuses Django's hash uncomputed; argon2 caps follow Settings."""
    stored = legacy_hash("django_pbkdf2_sha256")
    strict = LegacyHasher(
        Argon2Hasher(FAST), [DjangoVerifier(limits=Limits(pbkdf2_iterations=500_000))]
    )
    strict.verify(None, "prime the dummy hash")
    computations.clear()
    assert not strict.verify(stored, PASSWORD)
    assert computations == ["argon2 verify"]
    site = doorward_settings(argon2_max_memory_cost=131072)
    assert Limits.from_settings(site).argon2_memory_cost == 131072
    defaults = doorward_settings()
    assert (
        Limits().argon2_memory_cost,
        Limits().argon2_time_cost,
        Limits().argon2_parallelism,
    ) == (
        defaults.argon2_max_memory_cost,
        defaults.argon2_max_time_cost,
        defaults.argon2_max_parallelism,
    )


# -- PW-05: exact verification --------------------------------------------------------------


LONG = "Ab1-" * 25


def test_pw05_exact_verification_once_a_plain_bcrypt_hash_is_replaced():
    """Plain bcrypt reads 72 bytes, as documented, until the first login stores argon2id, which reads all."""
    stored = bcrypt.hashpw(LONG.encode()[:72], bcrypt.gensalt(4)).decode()
    auth, store = make_auth([BcryptVerifier()])
    migrated_user(auth, store, stored)
    assert auth.hasher.verify(stored, LONG[:72] + "anything after byte 72")
    auth.login(EMAIL, LONG)
    with pytest.raises(InvalidCredentials):
        auth.login(EMAIL, LONG[:72])
    auth.login(EMAIL, LONG)


@pytest.mark.parametrize("source", ["django_bcrypt_sha256", "flask_security_bcrypt"])
def test_pw05_prehashed_bcrypt_formats_compare_the_whole_password(source):
    """Django's bcrypt_sha256 and Flask-Security-Too's HMAC'd bcrypt tell a password from its 72-character prefix."""
    stored = legacy_hash(source, LONG)
    hasher = LegacyHasher(Argon2Hasher(FAST), verifiers_for(source))
    assert hasher.verify(stored, LONG)
    assert not hasher.verify(stored, LONG[:72])
    assert not hasher.verify(stored, LONG.swapcase())


# -- CC-06: the same gate, off the event loop ------------------------------------------------


def test_cc06_legacy_verification_takes_a_place_at_the_primarys_gate():
    """With the primary's only place taken, a legacy verification is shed like an argon2 one."""
    primary = Argon2Hasher(FAST, max_concurrent=1, max_waiting=0)
    hasher = LegacyHasher(primary, [BcryptVerifier()])
    stored = legacy_hash("bcrypt_2b")
    primary.admit()
    with pytest.raises(Overloaded):
        hasher.verify(stored, PASSWORD)
    primary.release()
    assert hasher.verify(stored, PASSWORD)
    assert primary.peak_running == 1
    assert primary._admitted == 0


@pytest.mark.asyncio
async def test_cc06_async_legacy_verification_runs_off_the_event_loop(monkeypatch):
    """Django's PBKDF2 runs in the primary's hashing threads while a ticker on the loop keeps ticking."""
    stored = legacy_hash("django_pbkdf2_sha256")
    threads = []
    real = hashlib.pbkdf2_hmac

    def recording(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "pbkdf2_hmac", recording)
    hasher = AsyncLegacyHasher(verifiers=[DjangoVerifier()])
    ticks = 0
    done = asyncio.Event()

    async def ticker():
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.005)

    task = asyncio.create_task(ticker())
    assert await hasher.verify(stored, PASSWORD)
    done.set()
    await task
    assert [name.rsplit("_", 1)[0] for name in threads] == ["doorward-argon2"]
    assert ticks >= 5


# -- configuration ------------------------------------------------------------------------------


def test_flask_security_argon2_at_doorwards_own_costs_is_refused_at_start_up():
    """HMAC'd argon2 hashes with doorward's own costs could not be told apart, so start-up stops."""
    with pytest.raises(ConfigurationError, match="could not be told apart"):
        LegacyHasher(Argon2Hasher(Argon2Params()), [FlaskSecurityVerifier(SALT)])
    LegacyHasher(Argon2Hasher(Argon2Params()), [FlaskSecurityVerifier(SALT, argon2_params=())])
    LegacyHasher(Argon2Hasher(Argon2Params(time_cost=4)), [FlaskSecurityVerifier(SALT)])


def test_verifiers_refuse_a_configuration_they_cannot_honour():
    """A missing SECURITY_PASSWORD_SALT or an unknown scheme name stops start-up."""
    with pytest.raises(ConfigurationError, match="SECURITY_PASSWORD_SALT"):
        FlaskSecurityVerifier(None)
    with pytest.raises(ConfigurationError):
        FlaskSecurityVerifier(SALT, schemes=["sha512_crypt"])
    with pytest.raises(ConfigurationError):
        DjangoVerifier(schemes=["md5"])


def test_bcrypt_formats_without_the_legacy_extra_name_the_install_command(monkeypatch):
    """Without bcrypt installed, a bcrypt verifier fails at construction naming doorward[legacy]."""
    monkeypatch.setitem(sys.modules, "bcrypt", None)
    with pytest.raises(ImportError, match=r"doorward\[legacy\]"):
        BcryptVerifier()
    with pytest.raises(ImportError, match=r"doorward\[legacy\]"):
        DjangoVerifier()
    django = DjangoVerifier(schemes=["pbkdf2_sha256", "argon2"])
    assert django.verify(legacy_hash("django_pbkdf2_sha256"), PASSWORD)


def test_recognizes_tells_which_stored_hashes_a_login_could_verify():
    """The primary's argon2 and every configured legacy format are recognised; others are not."""
    hasher = LegacyHasher(Argon2Hasher(FAST), [DjangoVerifier()])
    assert hasher.recognizes(legacy_hash("django_argon2"))
    assert hasher.recognizes(hasher.hash(PASSWORD))
    assert not hasher.recognizes(legacy_hash("bcrypt_2b"))
    assert not hasher.recognizes("md5$salt$5d41402abc4b2a76b9719d911017c592")
