"""Staff accounts: one role each, a role a set of named permissions; passwords kept as
Argon2id hashes, TOTP as the second factor of the roles `[desk] require_second_factor`
names, one-time links to set a password, logins limited per account and per client
network and answered alike for any account, and sessions kept in the store."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlite_utils import Database

from digest.addresses import normalize_email
from digest.config import Config
from digest.errors import LoginRefused, RowError, StaffError
from digest.staff.audit import Actor, record
from digest.store import from_db_time
from digest.store import staff as rows

# The permissions, each checked by the desk route that declares it.
VIEWER = frozenset(
    {"editions.view", "status.view", "lint.view", "returns.view", "audit.view", "feeds.view"}
)
EDITOR = VIEWER | {"note.write", "lead.write", "test.send", "preview.any"}
PUBLISHER = EDITOR | {"edition.hold", "edition.approve", "edition.send"}
ADMIN = PUBLISHER | {"staff.manage", "feeds.manage", "readers.view", "readers.write"}
ROLES: dict[str, frozenset[str]] = {
    "viewer": VIEWER,
    "editor": EDITOR,
    "publisher": PUBLISHER,
    "admin": ADMIN,
}
MIN_PASSWORD = 12
LINK_HOURS = 24
FAILURE_WINDOW = timedelta(minutes=15)
_HASHER = PasswordHasher()  # Argon2id, the library's (RFC 9106's low-memory) parameters
_DUMMY = _HASHER.hash("not a password anyone has: the time an unknown account costs")


def allows(role: str, permission: str) -> bool:
    """Whether ``role`` holds ``permission``."""
    return permission in ROLES.get(role, frozenset())


def _role(role: str) -> str:
    if role not in ROLES:
        raise StaffError(f"{role!r} is not a role: give one of {', '.join(ROLES)}.")
    return role


def _email(email: str) -> str:
    try:
        return normalize_email(email).lower()
    except RowError as e:
        raise StaffError(f"{email!r} is not an address: {e.reason}") from e


def _password_hash(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise StaffError(
            f"The password has {len(password)} characters; give at least {MIN_PASSWORD} "
            "(a passphrase of a few words is easiest)."
        )
    return _HASHER.hash(password)


def needs_second_factor(config: Config, role: str) -> bool:
    return role in config.desk.require_second_factor


@dataclass(frozen=True)
class Added:
    """A new account: its address, role, and the TOTP enrolment URI (when its role
    needs a second factor and a password was set) to scan into an authenticator."""

    email: str
    role: str
    totp_uri: str


def _enrol(config: Config, db: Database, email: str, now: datetime) -> str:
    secret = pyotp.random_base32()
    rows.update_staff(db, email, now, totp_secret=secret)
    issuer = config.newsletter.name or "digest"
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=f"{issuer} desk")


def add_staff(
    config: Config, db: Database, actor: Actor, email: str, role: str, password: str, now: datetime
) -> Added:
    """`staff add`: a new account (StaffError for one that exists, a bad role or a
    short password). Without a password, `staff reset` makes the link to set one."""
    address, role = _email(email), _role(role)
    if rows.get_staff(db, address) is not None:
        raise StaffError(f"{address} has an account already: `staff role` changes its role.")
    rows.insert_staff(db, address, role, _password_hash(password) if password else "", now)
    uri = _enrol(config, db, address, now) if password and needs_second_factor(config, role) else ""
    record(db, now, actor, "staff.add", address, after={"role": role})
    return Added(address, role, uri)


def staff_list(db: Database) -> list[dict[str, object]]:
    """`staff list`: each account, its role, whether it has a password and TOTP."""
    return [
        {
            "email": r.email,
            "role": r.role,
            "password": bool(r.password_hash),
            "totp": bool(r.totp_secret),
            "created_at": r.created_at,
        }
        for r in rows.list_staff(db)
    ]


def _existing(db: Database, email: str) -> rows.StaffRow:
    found = rows.get_staff(db, _email(email))
    if found is None:
        raise StaffError(f"{email} has no account: `staff list` shows who has one.")
    return found


def _keep_an_admin(db: Database, account: rows.StaffRow, new_role: str) -> None:
    admins = [r for r in rows.list_staff(db) if r.role == "admin"]
    if account.role == "admin" and new_role != "admin" and len(admins) == 1:
        raise StaffError(
            f"{account.email} is the only admin: make another account admin first, or no "
            "one could manage staff from the desk."
        )


def set_role(
    config: Config, db: Database, actor: Actor, email: str, role: str, now: datetime
) -> str:
    """`staff role`: the account's new role; its sessions end (they held the old one).
    The TOTP enrolment URI when the new role needs one it lacks, else ""."""
    account, role = _existing(db, email), _role(role)
    _keep_an_admin(db, account, role)
    rows.update_staff(db, account.email, now, role=role)
    rows.delete_sessions(db, email=account.email)
    record(
        db, now, actor, "staff.role", account.email,
        before={"role": account.role}, after={"role": role},
    )  # fmt: skip
    if needs_second_factor(config, role) and not account.totp_secret and account.password_hash:
        return _enrol(config, db, account.email, now)
    return ""


def remove_staff(db: Database, actor: Actor, email: str, now: datetime) -> None:
    """`staff remove`: the account and its sessions and links are gone."""
    account = _existing(db, email)
    _keep_an_admin(db, account, "")
    rows.delete_staff(db, account.email)
    record(db, now, actor, "staff.remove", account.email, before={"role": account.role})


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def reset_link(config: Config, db: Database, actor: Actor, email: str, now: datetime) -> str:
    """`staff reset`: a one-time link (valid LINK_HOURS) to set a new password; the
    account's password and sessions are gone until then, earlier links spent."""
    account = _existing(db, email)
    token = secrets.token_urlsafe(32)
    rows.insert_link(db, _token_hash(token), account.email, now + timedelta(hours=LINK_HOURS))
    rows.update_staff(db, account.email, now, password_hash="", totp_secret="")
    rows.delete_sessions(db, email=account.email)
    record(db, now, actor, "staff.reset", account.email)
    base = (config.desk.base_url or "http://127.0.0.1:8030").rstrip("/")
    return f"{base}/set-password/{token}"


def link_account(db: Database, token: str, now: datetime) -> str:
    """The account a one-time link is for ("" for a spent, expired or forged one)."""
    return rows.peek_link(db, _token_hash(token), now)


def set_password(
    config: Config, db: Database, token: str, password: str, now: datetime
) -> tuple[str, str]:
    """Spend a one-time link to set the account's password: (email, the TOTP
    enrolment URI when its role needs a second factor, else "")."""
    digest = _token_hash(token)
    email = rows.peek_link(db, digest, now)
    if not email:
        raise StaffError("This link was used already, has expired or is not one: ask an admin.")
    hashed = _password_hash(password)  # a short password leaves the link unspent
    rows.spend_link(db, digest, now)
    rows.update_staff(db, email, now, password_hash=hashed)
    account = rows.get_staff(db, email)
    record(db, now, Actor(email, account.role if account else ""), "staff.password", email)
    if account and needs_second_factor(config, account.role):
        return email, _enrol(config, db, email, now)
    return email, ""


# ---------------------------------------------------------------- logging in


def client_network(address: str) -> str:
    """The network a client's failures count against: its IPv4 address, its IPv6 /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


REFUSED = "That address, password and code do not match an account, or there were too many tries: wait 15 minutes."  # noqa: E501


def log_in(
    config: Config,
    db: Database,
    email: str,
    password: str,
    code: str,
    client: str,
    now: datetime,
) -> rows.StaffRow:
    """The account ``email``, ``password`` and ``code`` (TOTP, for the roles that need
    it) prove; LoginRefused otherwise. One Argon2 verification whatever the account (a
    dummy hash for an unknown one), so the answer and its time are the same."""
    address = email.strip().lower()
    network = client_network(client)
    account = rows.get_staff(db, address)
    by_account, by_network = rows.login_failures_since(db, now - FAILURE_WINDOW, address, network)
    limited = max(by_account, by_network) >= config.desk.login_failures
    stored = account.password_hash if account and account.password_hash else _DUMMY
    try:
        good = _HASHER.verify(stored, password) and stored is not _DUMMY
    except (VerificationError, InvalidHashError):
        good = False
    if good and account and needs_second_factor(config, account.role):
        step = _totp_step(account.totp_secret, code, now)
        good = step > 0 and rows.spend_totp_step(db, account.email, step)
    who = Actor(address or "?", account.role if account else "")
    if limited or not good or account is None:
        rows.record_login_failure(db, address, network, now)
        why = "too many failures" if limited else "wrong address, password or code"
        record(db, now, who, "login", address, outcome="refused", detail=f"{why} from {network}")
        raise LoginRefused(REFUSED)
    record(db, now, who, "login", address, detail=f"from {network}")
    return account


def _totp_step(secret: str, code: str, now: datetime) -> int:
    """The time step (of 30 s) ``code`` belongs to, one step either side of ``now``
    allowed for clocks apart; 0 when it is none of them."""
    if not secret:
        return 0
    totp = pyotp.TOTP(secret)
    for offset in (-1, 0, 1):
        at = now + timedelta(seconds=offset * totp.interval)
        if hmac.compare_digest(totp.at(at), code.strip()):
            return int(totp.timecode(at))
    return 0


@dataclass(frozen=True)
class Session:
    """A live desk session: whose, their role, its CSRF token, its id's hash."""

    email: str
    role: str
    csrf: str
    key: str


def open_session(db: Database, email: str, now: datetime) -> tuple[str, str]:
    """A new session for ``email``: (the cookie's token, the CSRF token). Only the
    token's hash is stored."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    rows.insert_session(db, _token_hash(token), email, csrf, now)
    return token, csrf


def session_for(config: Config, db: Database, token: str, now: datetime) -> Session | None:
    """The live session of a cookie's token, its idle time renewed; None (and the row
    gone) past `[desk] idle_minutes` unused or `max_hours` after its login."""
    if not token:
        return None
    key = _token_hash(token)
    found = rows.get_session(db, key)
    if found is None:
        return None
    email, csrf, created, seen = found
    idle = now - from_db_time(seen) > timedelta(minutes=config.desk.idle_minutes)
    old = now - from_db_time(created) > timedelta(hours=config.desk.max_hours)
    account = rows.get_staff(db, email)
    if idle or old or account is None:
        rows.delete_sessions(db, token_hash=key)
        return None
    rows.touch_session(db, key, now)
    return Session(email, account.role, csrf, key)


def log_out(db: Database, session: Session, now: datetime, *, everywhere: bool = False) -> int:
    """End this session, or with ``everywhere`` every session of its account."""
    if everywhere:
        ended = rows.delete_sessions(db, email=session.email)
    else:
        ended = rows.delete_sessions(db, token_hash=session.key)
    actor = Actor(session.email, session.role)
    record(db, now, actor, "logout.everywhere" if everywhere else "logout", session.email)
    return ended
