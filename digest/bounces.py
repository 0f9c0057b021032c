"""What comes back to the return path, classified: delivery status notifications (RFC 3464,
and the formats of common MTAs through flufl.bounce), feedback-loop complaints (ARF,
RFC 5965), unsubscribe requests to the List-Unsubscribe mailto, auto-replies (RFC 3834)
and everything else. Pure functions over a message's bytes: no store, no clock.

A false bounce or complaint takes a real reader off the list, so a message counts as one
only on positive evidence (a report's structure, or a known MTA's bounce format from a
mailer daemon); anything unclear is "other" and changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr

from flufl.bounce import all_failures

KINDS = ("bounce", "complaint", "report", "unsubscribe", "autoreply", "delivered", "other")

# RFC 3463 enhanced status codes, anywhere in a line of text.
_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
# An address that is gone for good, said in words (for reports without a usable code).
_ADDRESS_GONE = re.compile(
    r"user unknown|unknown user|no such (?:user|mailbox|recipient|address|account)"
    r"|(?:user|mailbox|recipient|address|account)(?: name)? (?:does not|doesn't) exist"
    r"|invalid (?:recipient|mailbox|address)|mailbox (?:unavailable|not found|disabled)"
    r"|account (?:has been )?(?:disabled|closed|deactivated|terminated)"
    r"|unknown recipient|(?:user|recipient|address)(?: name)? (?:is |was )?not "
    r"(?:recognized|found|known)|(?:address|recipient) (?:wasn.?t|was not) found"
    r"|(?:account|domain|address|mailbox)(?: or domain)? may not exist"
    r"|unrouteable address|host (?:or domain name )?(?:not found|unknown)"
    r"|domain (?:not found|does not exist)|no mx (?:record )?found|does not accept mail"
    r"|no mail(?:box)? here|not our customer|recipient not found",
    re.I,
)
# Where a bounce's own words end and the copy of the returned message begins.
_COPY_STARTS = re.compile(
    r"^.*(?:below (?:this line )?is a copy|copy of (?:the |your )?(?:original )?message"
    r"|original message (?:follows|headers|is attached)|message headers(?: follow)?:?\s*$"
    r"|returned message|undelivered message (?:follows|attached)"
    r"|^[\s>]*[-=_]{3,}\s*original message).*$",
    re.I | re.M,
)
_ADDRESS = re.compile(r"[\w.+'=-]+@[\w-]+(?:\.[\w-]+)+")
_DAEMON = re.compile(
    r"^(?:mailer-?daemon|postmaster|mail-?daemon|mail\.?delivery|bounces?|nobody)@", re.I
)
_DAEMON_NAME = re.compile(r"mail delivery|mailer.?daemon|postmaster|mail administrator", re.I)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|deliver(?:y|ing)? (?:status|failure|failed|has failed|report|problem|"
    r"notification)|returned mail|failure notice|mail delivery failed|could not be delivered"
    r"|non.?delivery|not delivered|delivery failure|mail system error|rejected|bounced?\b",
    re.I,
)
_AUTOREPLY_SUBJECT = re.compile(
    r"^(?:auto(?:matic)?[ -]?(?:reply|response|antwort|svar)|out of (?:the )?office|"
    r"away\b|on vacation|vacation|absence|abwesen|r[ée]ponse automatique|autosvar)",
    re.I,
)
# A List-Unsubscribe mailto request: "unsubscribe <token>" anywhere in the subject, or
# a subject that is just "unsubscribe" (what mail apps send for the mailto).
_UNSUBSCRIBE = re.compile(
    r"\bunsubscribe\s+([0-9]+\.[A-Za-z0-9_-]+)|^(?:re:\s*)*unsubscribe\s*$", re.I
)
# Feedback types that are a reader's complaint or opt-out; auth-failure (DMARC) and
# not-spam reports say nothing about the reader's wish.
COMPLAINT_TYPES = {"abuse", "fraud", "virus", "other", "opt-out", "optout"}


@dataclass(frozen=True)
class Failure:
    """One recipient a bounce reports: permanent ("hard") or not, with its words."""

    address: str  # lower-cased
    status: str  # "5.1.1", or "" when the report states none
    hard: bool
    reason: str  # the diagnostic, shortened


@dataclass(frozen=True)
class Returned:
    """One message from the return-path mailbox, classified."""

    kind: str  # one of KINDS
    failures: tuple[Failure, ...] = ()
    complained: tuple[str, ...] = ()  # the original recipients an ARF report names
    feedback_type: str = ""
    token: str = ""  # an unsubscribe request's token, if its subject has one
    sender: str = ""  # the From address, lower-cased
    subject: str = ""
    message_ids: tuple[str, ...] = field(default=())  # Message-IDs quoted in the report
    delivered_to: tuple[str, ...] = field(default=())  # where the report was delivered


def classify(raw: bytes) -> Returned:
    """Classify one message that came back to the return path."""
    msg = message_from_bytes(raw, policy=policy.compat32)
    common = Returned(
        "other",
        sender=parseaddr(str(msg.get("From", "")))[1].lower(),
        subject=_subject(msg),
        message_ids=tuple(_quoted_message_ids(raw)),
        delivered_to=tuple(_delivered_to(msg)),
    )
    parts = list(msg.walk())
    feedback = [p for p in parts if p.get_content_type() == "message/feedback-report"]
    if feedback:
        return _arf(msg, feedback[0], common)
    status = [p for p in parts if p.get_content_type() == "message/delivery-status"]
    if status:
        return _dsn(msg, status[0], common)
    found = _UNSUBSCRIBE.search(common.subject)
    if found:
        return replace(common, kind="unsubscribe", token=found.group(1) or "")
    if _from_daemon(msg) or (_BOUNCE_SUBJECT.search(common.subject) and not _autoreply(msg)):
        return _heuristic(msg, common)
    if _autoreply(msg):
        return replace(common, kind="autoreply")
    return common


def is_hard(status: str, text: str) -> bool:
    """Whether a failure means the address is gone for good.

    By RFC 3463: a 4.x.x is temporary; of 5.x.x, only the address's own status (5.1.x,
    but 5.1.7/5.1.8 are about the sender) and a disabled mailbox (5.2.1) are; a full
    mailbox, a policy block, a routing or content problem are not the reader's address
    failing. With no code or 5.0.0, only words that say the address does not exist count.
    """
    found = _STATUS.search(status)
    if found is None:
        return bool(_ADDRESS_GONE.search(text))
    klass, subject, detail = (int(g) for g in found.groups())
    if klass != 5:
        return False
    if subject == 1:
        return detail not in (7, 8)
    if (subject, detail) == (2, 1):
        return True
    if subject == 0:
        return bool(_ADDRESS_GONE.search(text))
    return False


# ---------------------------------------------------------------- report formats


def _arf(msg: Message, part: Message, common: Returned) -> Returned:
    fields = _field_blocks(part)
    values = [v for block in fields for k, v in block if k == "original-rcpt-to"]
    values += [v for block in fields for k, v in block if k == "removal-recipient"]
    feedback_type = next((v.lower() for b in fields for k, v in b if k == "feedback-type"), "")
    recipients = [_bare(v) for v in values] or _original_recipients(msg)
    kind = "complaint" if feedback_type in COMPLAINT_TYPES or not feedback_type else "report"
    complained = tuple(dict.fromkeys(a for a in recipients if a))
    return replace(common, kind=kind, complained=complained, feedback_type=feedback_type)


def _dsn(msg: Message, part: Message, common: Returned) -> Returned:
    failures: list[Failure] = []
    reported = 0
    for block in _field_blocks(part):
        values = dict(block)
        address = _bare(values.get("final-recipient") or values.get("original-recipient", ""))
        if not address:
            continue
        reported += 1
        action = values.get("action", "").lower()
        status = values.get("status", "")
        diagnostic = " ".join(values.get("diagnostic-code", "").split())
        if action in ("delivered", "relayed", "expanded") or status.startswith("2"):
            continue
        if action not in ("failed", "delayed") and status[:1] not in ("4", "5"):
            continue
        if action == "delayed":
            status = status if status.startswith("4") else "4.0.0"
        found = _STATUS.search(status) or _STATUS.search(diagnostic)
        code = ".".join(found.groups()) if found else ""
        text = diagnostic or _human_text(msg)
        if not _is_address(address):  # a mangled recipient field: the text names it
            failures += _failures_in_text(msg, permanent=action != "delayed", default=code)
            continue
        failures.append(Failure(address, code, is_hard(code, text), _short(diagnostic)))
    if failures:
        return replace(common, kind="bounce", failures=tuple(failures))
    if reported:  # every recipient was delivered, relayed or expanded
        return replace(common, kind="delivered")
    return _heuristic(msg, common)  # a report without readable recipient fields


def _heuristic(msg: Message, common: Returned) -> Returned:
    """A bounce in an MTA's own format: flufl.bounce finds the addresses, the text the
    code and whether it is permanent."""
    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # a detector choking on odd input: treat the mail as unclear
        return common
    text = _human_text(msg)
    failures = []
    for raw_address, permanent_failure in [(a, False) for a in temporary] + [
        (a, True) for a in permanent
    ]:
        address = _bare(raw_address.decode("utf-8", "replace"))
        if _is_address(address):  # not a heuristic's stray match
            failures.append(_failure(text, address, permanent_failure))
    if not failures:
        failures = _failures_in_text(msg, permanent=True)
    if not failures:
        return common
    return replace(common, kind="bounce", failures=tuple(failures))


def _failure(text: str, address: str, permanent: bool, default: str = "") -> Failure:
    """A failure for ``address`` with the code and words the report gives near it."""
    context = _context(text, address)
    found = _STATUS.search(context) or _STATUS.search(text)
    code = ".".join(found.groups()) if found else default
    hard = permanent and is_hard(code, context or text)
    return Failure(address, code, hard, _short(context))


def _failures_in_text(msg: Message, *, permanent: bool, default: str = "") -> list[Failure]:
    """Addresses a mailer daemon's own words name, before the copy of the message: the
    last resort for formats no detector knows. The report's own From and To are not
    among them (the daemon and us)."""
    text = _human_text(msg)
    own = _COPY_STARTS.split(text, maxsplit=1)[0]
    exclude = {parseaddr(str(msg.get(h, "")))[1].lower() for h in ("From", "To", "Reply-To")}
    found = dict.fromkeys(a.lower().rstrip(".") for a in _ADDRESS.findall(own))
    return [
        _failure(text, address, permanent, default)
        for address in found
        if address not in exclude and _is_address(address)
    ]


def _is_address(value: str) -> bool:
    local, _, domain = value.partition("@")
    return bool(local) and "." in domain and " " not in value


# ---------------------------------------------------------------- helpers


def _field_blocks(part: Message) -> list[list[tuple[str, str]]]:
    """The header-style blocks of a delivery-status or feedback-report part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [
            [(k.lower(), str(v)) for k, v in m.items()] for m in payload if isinstance(m, Message)
        ]
    text = payload if isinstance(payload, str) else ""
    blocks = re.split(r"\r?\n\s*\r?\n", text.strip())
    parser = HeaderParser()
    return [[(k.lower(), str(v)) for k, v in parser.parsestr(b + "\n").items()] for b in blocks]


def _bare(value: str) -> str:
    """'rfc822; <Ann@Example.org>' -> 'ann@example.org'."""
    value = value.split(";", 1)[1] if ";" in value else value
    return parseaddr(value.strip())[1].strip().lower() or value.strip(" <>").lower()


def _original_recipients(msg: Message) -> list[str]:
    for part in msg.walk():
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            inner = part.get_payload()
            original = inner[0] if isinstance(inner, list) and inner else None
            if isinstance(inner, str):
                original = HeaderParser().parsestr(inner)
            if isinstance(original, Message):
                return [a.lower() for _, a in getaddresses(original.get_all("To", [])) if a]
    return []


def _delivered_to(msg: Message) -> list[str]:
    names = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
    found = []
    for name in names:
        for value in msg.get_all(name, []):
            found += [a.lower() for _, a in getaddresses([str(value)]) if a]
    return found


_MESSAGE_ID = re.compile(rb"Message-ID:\s*(<[^>\s]{3,250}>)", re.I)


def _quoted_message_ids(raw: bytes) -> list[str]:
    """Message-IDs in the report's body: the returned message's, digest's own included."""
    body = raw.split(b"\n\n", 1)[1] if b"\n\n" in raw else b""
    return [m.decode("ascii", "replace") for m in _MESSAGE_ID.findall(body)]


def _from_daemon(msg: Message) -> bool:
    name, address = parseaddr(str(msg.get("From", "")))
    return bool(_DAEMON.match(address) or _DAEMON_NAME.search(name))


def _autoreply(msg: Message) -> bool:
    """RFC 3834's Auto-Submitted, the common vendor headers, or a vacation subject."""
    submitted = str(msg.get("Auto-Submitted", "")).strip().lower()
    if submitted and submitted != "no":
        return True
    if any(msg.get(h) for h in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress")):
        return True
    if str(msg.get("Precedence", "")).strip().lower() in ("auto_reply", "auto-reply"):
        return True
    return bool(_AUTOREPLY_SUBJECT.match(_subject(msg)))


def _subject(msg: Message) -> str:
    raw = str(msg.get("Subject", ""))
    try:
        return " ".join(str(make_header(decode_header(raw))).split())
    except (UnicodeDecodeError, LookupError, ValueError):
        return " ".join(raw.split())


def _human_text(msg: Message) -> str:
    """The first text part: what the reporting MTA wrote for people."""
    for part in msg.walk():
        if part.get_content_maintype() == "text" and part.get_content_subtype() == "plain":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload.decode(part.get_content_charset() or "utf-8", "replace")[:20_000]
    return ""


def _context(text: str, address: str) -> str:
    """The lines around where the report names the address."""
    at = text.lower().find(address)
    if at < 0:
        return ""
    return text[max(0, at - 200) : at + len(address) + 400]


def _short(text: str) -> str:
    return " ".join(text.split())[:300]
