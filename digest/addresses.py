"""Addresses and names as digest keeps them: validated, in the form SMTP needs, and folded
to the mailbox they reach. Pure functions: no store, no network.
"""

from __future__ import annotations

from typing import Any

import idna
from email_validator import EmailNotValidError, validate_email

from digest.errors import RowError

MAX_NAME = 200  # characters of a reader's name; the sign-up form says the same
MAX_ADDRESS = 254  # RFC 5321's path limit, less the angle brackets
# Providers known to deliver "a.b.c" and "abc" to one mailbox.
DOTS_IGNORED = frozenset({"gmail.com", "googlemail.com"})


def normalize_email(raw: str) -> str:
    """A syntactically valid address (no DNS look-up), its domain lower-cased and in its
    ASCII (IDNA) form, as it goes into SMTP: ``erin@exämple.org`` ->
    ``erin@xn--exmple-cua.org``. A non-ASCII local part is kept; it needs a relay that
    offers SMTPUTF8, and the sender says so for that one delivery."""
    if len(raw.strip()) > MAX_ADDRESS:
        raise RowError(f"an address has at most {MAX_ADDRESS} characters", raw[:80])
    try:
        found = validate_email(raw.strip(), check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as e:
        raise RowError(str(e), raw) from None
    return str(found.ascii_email or f"{found.local_part}@{found.ascii_domain}")


def mailbox_key(address: str) -> str:
    """The mailbox an address reaches, for limits that count per person: case folded,
    a +tag dropped, and dots dropped where the provider ignores them
    (``A.B+news@Gmail.com`` -> ``ab@gmail.com``)."""
    local, _, domain = address.lower().rpartition("@")
    local = local.split("+", 1)[0] or local
    if domain in DOTS_IGNORED:
        local = local.replace(".", "")
    return f"{local}@{domain}"


def clean_name(raw: Any) -> str:
    """A display name without control characters (they would break the To header), at
    most `MAX_NAME` characters."""
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise RowError("name must be text", raw)
    name = " ".join("".join(c if c.isprintable() else " " for c in raw).split())
    if len(name) > MAX_NAME:
        raise RowError(f"a name has at most {MAX_NAME} characters", name[:60] + "…")
    return name


def ascii_domain(address: str) -> str:
    """The address with its domain in ASCII (IDNA 2008, as email-validator checks it);
    UnicodeError when the domain cannot be encoded."""
    local, _, domain = address.rpartition("@")
    if domain.isascii():
        return address
    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"
    except idna.IDNAError as e:
        raise UnicodeError(f"the domain {domain!r} has no ASCII form: {e}") from e


def needs_smtputf8(*addresses: str) -> bool:
    """Whether an address has a non-ASCII local part: it travels only with SMTPUTF8."""
    return not all(a.isascii() for a in addresses)
