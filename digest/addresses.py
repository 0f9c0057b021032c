"""Addresses and names as digest keeps them: validated, in the form SMTP needs, and folded
to the mailbox they reach. Pure functions: no store, no network.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import idna
from email_validator import EmailNotValidError, validate_email

from digest.errors import RowError

MAX_NAME = 200  # characters of a reader's name; the sign-up form says the same
MAX_ADDRESS = 254  # RFC 5321's path limit, less the angle brackets
# Providers known to deliver "a.b.c" and "abc" to one mailbox.
DOTS_IGNORED = frozenset({"gmail.com", "googlemail.com"})
# Domains that are another's mailboxes under a second name.
SAME_MAILBOXES = {"googlemail.com": "gmail.com"}


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


def mailbox_key(address: str, *, aliases: bool = True) -> str:
    """The mailbox an address reaches, the one key for everything that counts per person
    (limits, the erased and the left): case folded, a +tag dropped, dots dropped where
    the provider ignores them, and a provider's second domain taken as its first
    (``A.B+news@GoogleMail.com`` -> ``ab@gmail.com``). ``aliases=False`` keeps the
    domain as written (the key older suppression lists were kept by, still honoured)."""
    local, _, domain = address.lower().rpartition("@")
    local = local.split("+", 1)[0] or local
    if domain in DOTS_IGNORED:
        local = local.replace(".", "")
    if aliases:
        domain = SAME_MAILBOXES.get(domain, domain)
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


# Scripts whose names are written family name first, or without spaces between the
# parts: the first "word" is not a given name.
_FAMILY_FIRST_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL")
_TITLES = frozenset({"mr", "mrs", "ms", "mx", "dr", "prof", "sir", "dame", "rev", "fr"})


def first_name(name: str) -> str:
    """The given name in a display name when it can be told, else "" (greet by the
    whole name): "Ann Lee" -> "Ann", "Lee, Ann" -> "Ann", "Zoë Smith, PhD" -> "Zoë";
    "鈴木 一郎", "Dr. Ann Lee", "J. Smith" and a single word -> ""."""
    name = " ".join(name.split())
    if _family_first(name):
        return ""
    before, comma, after = name.partition(",")
    if comma and len(before.split()) == 1 and after.strip():
        words = after.split()  # "Lee, Ann": the given name follows the family name
    else:
        words = before.split()  # "Zoë Smith, PhD": what follows the comma is a suffix
        if len(words) < 2:
            return ""
    first = words[0]
    bare = first.rstrip(".").lower()
    if bare in _TITLES or len(bare) <= 1 or first.endswith("."):
        return ""
    return first


def _family_first(name: str) -> bool:
    for char in name:
        if ord(char) > 0x2E7F and unicodedata.name(char, "").startswith(_FAMILY_FIRST_SCRIPTS):
            return True
    return False
