"""What comes back to the return path, classified: delivery status notifications (RFC 3464,
DSN fields in plain text, and the formats of common MTAs through flufl.bounce), Amazon SES
notifications that arrive as mail, feedback-loop complaints (ARF, RFC 5965), unsubscribe
requests to the List-Unsubscribe mailto, auto-replies (RFC 3834) and everything else.
Pure functions over a message's bytes: no store, no clock.

A false bounce or complaint takes a real reader off the list, so a message counts as one
only on positive evidence (a report's structure, or a known MTA's bounce format from a
mailer daemon); anything unclear is "other" and changes nothing. A message that cannot
be read safely (nested past `MAX_PARTS`, or one the parser chokes on) is "unreadable".
What a message proves about whom is not decided here: see `returns`.

Whether a failure is hard (the address is gone) is read from its RFC 3463 code and its
words together: a status code counts only as a token of its own in the report's own
words (never a version number, nor anything in the quoted copy of our message).
"""

from __future__ import annotations

import base64
import json
import quopri
import re
from dataclasses import dataclass, field, replace
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr
from typing import Any

from flufl.bounce import all_failures

from digest.mail.replies import STATUS_CODE, says_address_is_gone, status_code

KINDS = (
    "bounce",
    "complaint",
    "report",
    "unsubscribe",
    "left",  # the reader left through a provider's own unsubscribe link (its webhook)
    "autoreply",
    "delivered",
    "other",
    "unreadable",
)
# Parts (multipart or message/*) past this many are no return anyone writes: a crafted
# message to make the parser recurse. It is set aside before it is parsed.
MAX_PARTS = 100
_CONTAINER = re.compile(rb"(?im)^content-type:[ \t]*(?:multipart/|message/)")

# Words that say a failure is not about the address, whatever its code claims (a full
# mailbox, a block, a policy, a broken mailer).
_NOT_THE_ADDRESS = re.compile(
    r"mailbox (?:is )?full|over ?quota|quota exceeded|exceeded (?:the )?(?:storage|quota)"
    r"|\bquota\b|full mailbox|mail ?folder is full|(?:disk|storage) space|space left on device"
    r"|storage allocation|space has been used up|too many messages"
    r"|spam|blocked|block ?list|blacklist|reputation|policy|relay(?:ing)? (?:access )?denied"
    r"|not permitted to relay|reverse dns|\bptr\b|temporar|try again|mailer error"
    r"|pipe to |command output|suspended|inactive|disabled|deactivated|\bfrozen\b"
    r"|\blocked\b|archived|terminated|no longer accepts mail|unavailable or access denied"
    r"|\bspf\b|\bdkim\b|\bdmarc\b|rate limit|too many (?:connections|recipients)",
    re.I,
)
# Words that say the message or its sender was refused, whatever else they say (not a
# hedge among guesses: "the account or domain may not exist, they may be blacklisted").
_BLOCKED = re.compile(
    r"(?<!may be )(?<!might be )(?:spam|blocked|block ?list|blacklist|reputation"
    r"|relay(?:ing)? (?:access )?denied|not permitted to relay|relaying (?:mail )?to"
    r"|\bno relaying|relay not permitted|unable to relay|not allowed to relay"
    r"|\bspf\b|\bdkim\b|\bdmarc\b|\bvirus|message (?:is )?too (?:big|large)"
    r"|size (?:limit|exceeds)|rate limit|too many (?:connections|recipients|messages)"
    r"|suspended|disabled|deactivated|no longer accepts mail|unavailable or access denied)",
    re.I,
)
# Words that put the blame on someone other than the recipient: the sender's address
# (ours), the sending host or its IP address, a local delivery program that failed.
# Whatever code comes with them, the reader's address is not what is gone.
_NOT_THE_RECIPIENT = re.compile(
    r"\bsender\b[^.\n]{0,40}?\b(?:rejected|refused|denied|blocked|not allowed|unknown"
    r"|invalid|verif\w*|domain)|\bsender address\b|envelope sender"
    r"|(?:in reply to|after) mail from\b|>>>\s*mail from\b"
    r"|\b(?:\d{1,3}\.){3}(?:\d{1,3}|x)\b[\])]?\s+(?:is\s+|has\s+been\s+|was\s+|appears\s+)?"
    r"(?:(?:currently|temporarily|permanently|now)\s+)?(?:on\s+\w+\s+)?(?:blocked|black.?listed"
    r"|block.?listed|listed|banned|rejected|denied|refused|not allowed)"
    r"|\b(?:your|sending|client|connecting) (?:ip|host)\b"
    r"|invalid sender|sender verify|domain of sender|bogus mail from|null sender"
    r"|empty envelope sender|\bbatv\b|backscatter|client host rejected|helo command rejected"
    r"|\bdnsbl\b|\brbl\b|spamhaus|spamcop|barracudacentral|dynamic ip"
    r"|mailer error|pipe to |command output|local delivery|delivery program|\bx-unix\b"
    r"|\bprocmail\b|\bmaildrop\b|exit (?:status|code)|program (?:failed|exited)"
    r"|command (?:died|failed)|\|\| exit "
    r"|mailbox (?:is )?full|over ?quota|quota exceeded",
    re.I,
)
# The refusal came in reply to DATA or the end of the data: about the message (its
# content, a filter), not the address, whatever words it uses (RFC 5321's phases, as
# MTAs quote them: Postfix "in reply to end of DATA command", Exim "after end of data",
# Courier ">>> DATA").
_AFTER_DATA = re.compile(
    r"in reply to (?:end of )?data\b|after (?:end of )?data\b|>>>\s*data\b"
    r"|smtp command[^\n]*\n\s*data\b|\bdata command\b",
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
    r"^(?:mailer[-_]?daemon|postmaster|mail[-_]?daemon|mail\.?delivery|bounces?|nobody|mdaemon)@",
    re.I,
)
_DAEMON_NAME = re.compile(r"mail delivery|mailer.?daemon|postmaster|mail administrator", re.I)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|deliver(?:y|ing)? (?:status|failure|failed|has failed|report|problem|"
    r"notification)|returned mail|failure notice|mail delivery failed|could not be delivered"
    r"|non.?deliver|not delivered|delivery failure|failed delivery|mail system error|rejected"
    r"|bounced?\b|could not send|error sending",
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
# The machine-readable part of a DSN: RFC 3464's, RFC 6533's for internationalised mail
# (what Google and other SMTPUTF8 hosts send), and the text/ form some MTAs write.
_DELIVERY_STATUS = (
    "message/delivery-status",
    "message/global-delivery-status",
    "text/delivery-status",
)
# DSN fields written into a plain-text body (a report whose MIME structure was lost).
_INLINE_DSN = re.compile(r"(?im)^(?:final|original)-recipient:[ \t]*\S")
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
    provider_ids: tuple[str, ...] = field(default=())  # a provider's own ids of the message
    delivered_to: tuple[str, ...] = field(default=())  # where the report was delivered
    quoted: str = ""  # the report's body as text: where our own references may be quoted
    problem: str = ""  # why an unreadable message could not be read


def classify(raw: bytes) -> Returned:
    """Classify one message that came back to the return path; never raises.

    A message is read with one form of line ends: CRLF (as IMAP serves every message,
    as many deliveries store it) is read exactly as its LF twin."""
    raw = raw.replace(b"\r\n", b"\n")
    containers = len(_CONTAINER.findall(raw))
    if containers > MAX_PARTS:
        return Returned("unreadable", problem=f"{containers} nested parts (at most {MAX_PARTS})")
    try:
        msg = message_from_bytes(raw, policy=policy.compat32)
        return _classify(msg, raw)
    except RecursionError:
        return Returned("unreadable", problem="nested too deeply to read")
    except Exception as e:  # one message the parser chokes on never stops the others
        return Returned("unreadable", problem=f"cannot be parsed: {type(e).__name__}: {e}")


def _classify(msg: Message, raw: bytes) -> Returned:
    body = raw.split(b"\n\n", 1)[1] if b"\n\n" in raw else b""  # line ends are LF here
    common = Returned(
        "other",
        sender=parseaddr(str(msg.get("From", "")))[1].lower(),
        subject=_subject(msg),
        message_ids=tuple(_quoted_message_ids(body)),
        delivered_to=tuple(_delivered_to(msg)),
        quoted=body.decode("utf-8", "replace")[:200_000],
    )
    parts = list(msg.walk())
    feedback = [p for p in parts if p.get_content_type() == "message/feedback-report"]
    if feedback:
        return _arf(msg, feedback[0], common)
    status = [p for p in parts if p.get_content_type() in _DELIVERY_STATUS]
    if status:
        return _dsn(msg, _field_blocks(status[0]), common)
    notification = _ses_notification(msg)
    if notification is not None:
        return _ses(notification, common)
    found = _UNSUBSCRIBE.search(common.subject)
    if found:
        return replace(common, kind="unsubscribe", token=found.group(1) or "")
    daemon, automatic = _from_daemon(msg), _autoreply(msg)
    if daemon or _BOUNCE_SUBJECT.search(common.subject):
        # A bounce is read before its headers are taken for an auto-reply's: a DSN is
        # auto-replied mail too (RFC 3834), so "Auto-Submitted: auto-replied" only makes
        # it an auto-reply when what it says is no failure with a code or a hard one.
        text = _human_text(msg)
        if _INLINE_DSN.search(text):
            inline = _dsn(msg, _text_blocks(text), common)
            if inline.kind != "other":
                return inline
        heuristic = _heuristic(msg, common)
        if not automatic or (
            heuristic.kind == "bounce" and (daemon or _reads_as_bounce(heuristic))
        ):
            return heuristic
    if automatic:
        return replace(common, kind="autoreply")
    return common


def _reads_as_bounce(returned: Returned) -> bool:
    """A failure the report states with a code, or one whose words make it hard."""
    return any(f.status or f.hard for f in returned.failures)


def is_hard(status: str, text: str, *, final: bool = False) -> bool:
    """Whether a failure means the address is gone for good: its code and its words.

    By RFC 3463 a 4.x.x is temporary, but for a report that says the delivery ``final``ly
    failed with a 4.1.x whose words say the address does not exist. A 5.1.x (but
    5.1.7/5.1.8, about the sender) is the address's own status, unless the words say it
    is really a full mailbox, a block or a broken mailer. Any other 5.x.x (5.0.0, a 5.4.4
    "host or domain name not found", a 5.7.1 that says "user unknown") is hard only when
    the words say the mailbox or its domain does not exist, and not when they came in
    reply to DATA (about the message, not the address); a full mailbox (5.2.2, 5.2.3)
    never is. Words that blame the sender, the sending host or a local delivery program
    are never the recipient's address being gone, whatever the code.
    """
    if _NOT_THE_RECIPIENT.search(text):
        return False
    code = status_code(status)
    if code is not None:
        klass, subject, detail = code
        if klass == 4 and final and subject == 1 and detail not in (7, 8):
            return says_address_is_gone(text) and not _NOT_THE_ADDRESS.search(text)
        if klass != 5 or (subject, detail) in ((2, 2), (2, 3)):
            return False
        if subject == 1:  # the address's own status; 5.1.7 and 5.1.8 are the sender's
            return detail not in (7, 8) and not _NOT_THE_ADDRESS.search(text)
    return says_address_is_gone(text) and not _AFTER_DATA.search(text) and not _BLOCKED.search(text)


def provider_verdict_stands(status: str, words: str) -> bool:
    """Whether a provider's own signed "permanent, the address is gone" stands against the
    code and words it passes on: not when they say temporary, a full mailbox, a block,
    or blame the sender, the sending host or a local program."""
    code = status_code(status)
    if code is not None and (code[0] != 5 or code[1:] in ((2, 2), (2, 3))):
        return False
    return not (
        _NOT_THE_RECIPIENT.search(words) or _NOT_THE_ADDRESS.search(words) or _BLOCKED.search(words)
    )


# A reply as an MTA quotes it: its basic code, then its enhanced code ("550 5.1.1",
# "550-5.1.1", "550-'5.2.2", "550 [5.2.2]").
_REPLY = re.compile(r"(?<![\w.])[245]\d\d[ -]['\"(\[]?([245]\.\d{1,3}\.\d{1,3})(?![\w.]|\.\d)")


def deciding_status(status: str, diagnostic: str) -> tuple[str, str]:
    """The code that decides a failure and the words that go with it.

    When the diagnostic quotes the remote server's own reply inside a relay's wrapper
    (SES: ``550 5.1.0 - Unknown address error 550-'5.2.2 ... Mailbox Full'``), the
    remote's reply decides: its code over the wrapper's and over the report's Status
    field, and its own words. Otherwise the Status field, then the first code in the
    text, with all of the words."""
    replies = list(_REPLY.finditer(diagnostic))
    codes = [m.group(1) for m in replies]
    if replies and len(set(codes)) > 1:
        last = codes[-1]
        start = next(m for m in replies[1:] if m.group(1) == last and m.group(1) != codes[0])
        return last, diagnostic[start.start() :]
    if replies and status_code(status) != status_code(codes[0]):
        # the remote's reply quoted beside a Status of the reporting MTA's own making
        return codes[0], diagnostic
    found = STATUS_CODE.search(status) or STATUS_CODE.search(diagnostic)
    return (".".join(found.groups()) if found else ""), diagnostic


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


def _dsn(msg: Message, blocks: list[list[tuple[str, str]]], common: Returned) -> Returned:
    failures: list[Failure] = []
    reported = 0
    for block in blocks:
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
        code, said = deciding_status(status, diagnostic)
        if action == "delayed":  # still being tried: temporary, whatever it quotes
            code = status
        if not _is_address(address):  # a mangled recipient field: the text names it
            failures += _failures_in_text(msg, permanent=action != "delayed", default=code)
            continue
        if said != diagnostic:  # the remote server's own reply: its words alone
            words = said
        else:
            near = _context(_own_words(_human_text(msg)), address)
            words = f"{diagnostic}\n{near}" if diagnostic else near
        hard = action != "delayed" and is_hard(code, words, final=action == "failed")
        failures.append(Failure(address, code, hard, _short(diagnostic)))
    if failures:
        return replace(common, kind="bounce", failures=tuple(failures))
    if reported:  # every recipient was delivered, relayed or expanded
        return replace(common, kind="delivered")
    return _heuristic(msg, common)  # a report without readable recipient fields


def _ses_notification(msg: Message) -> dict[str, Any] | None:
    """An Amazon SES notification delivered as mail (an SNS email subscription): the
    JSON in the body, itself or inside SNS's envelope; None for anything else."""
    text = _human_text(msg)
    start = text.find("{")
    # The JSON itself, or inside SNS's envelope ("email-json"), quotes escaped.
    if start < 0 or ("notificationType" not in text and "eventType" not in text):
        return None
    # SNS mail wraps long lines, sometimes with a "!" where it cut.
    for candidate in (text, re.sub(r"!?\r?\n ", "", text), re.sub(r"\r?\n", "", text)):
        try:
            found, _ = json.JSONDecoder().raw_decode(candidate[candidate.find("{") :])
        except ValueError:
            continue
        if isinstance(found, dict) and isinstance(found.get("Message"), str):  # SNS envelope
            try:
                found = json.loads(found["Message"])
            except ValueError:
                return None
        if isinstance(found, dict) and (found.get("notificationType") or found.get("eventType")):
            return found
    return None


def ses_return(notification: dict[str, Any]) -> Returned:
    """An SES notification (SNS ``Message``, or an event destination's event) as a
    classified return: SNS signed it, so SES's own verdict counts."""
    return _ses(notification, Returned("other"), signed=True)


# SES's Permanent bounces that name the address itself as gone or refused for good.
SES_GONE = {"noemail", "suppressed", "onaccountsuppressionlist"}


def _ses(notification: dict[str, Any], common: Returned, *, signed: bool = False) -> Returned:
    """An SES Bounce, Complaint or Delivery notification as a classified return: the
    Message-ID it quotes (its headers, or commonHeaders) and SES's own message id.

    A Permanent bounce is hard by its recipient's code and words, as any DSN; when
    ``signed`` (an SNS webhook, verified) SES's own verdict is evidence too: a
    Permanent bounce whose recipient has no DSN status, or whose subtype says the
    address does not exist, is hard unless its words blame something else."""
    kind = str(notification.get("notificationType") or notification.get("eventType")).lower()
    mail: dict[str, Any] = _dict(notification.get("mail"))
    headers = mail.get("headers")
    headers = headers if isinstance(headers, list) else []
    ids = [
        str(h.get("value", ""))
        for h in headers
        if isinstance(h, dict) and str(h.get("name", "")).lower() == "message-id"
    ]
    common_id = _dict(mail.get("commonHeaders")).get("messageId")
    if isinstance(common_id, str) and common_id:
        ids.append(common_id)
    ses_id = str(mail.get("messageId", "") or "")
    common = replace(
        common,
        message_ids=common.message_ids + tuple(ids),
        provider_ids=common.provider_ids + ((ses_id,) if ses_id else ()),
        delivered_to=(*common.delivered_to, str(mail.get("source", "")).lower()),
    )
    if kind == "bounce":
        bounce = _dict(notification.get("bounce"))
        permanent = str(bounce.get("bounceType", "")).lower() == "permanent"
        subtype = str(bounce.get("bounceSubType", ""))
        failures = []
        for r in bounce.get("bouncedRecipients") or []:
            if not isinstance(r, dict):
                continue
            address = _bare(str(r.get("emailAddress", "")))
            stated = str(r.get("status", "") or "")
            words = str(r.get("diagnosticCode", "") or "") or subtype
            code, said = deciding_status(stated, words)
            status = code or ("5.0.0" if permanent else "4.0.0")
            hard = permanent and is_hard(status, said)
            if signed and permanent and not hard and (not code or subtype.lower() in SES_GONE):
                hard = provider_verdict_stands(status, said)
            failures.append(Failure(address, status, hard, _short(words)))
        return replace(common, kind="bounce", failures=tuple(failures))
    if kind == "complaint":
        complaint = _dict(notification.get("complaint"))
        complained = tuple(
            _bare(str(r.get("emailAddress", "")))
            for r in complaint.get("complainedRecipients") or []
        )
        feedback = str(complaint.get("complaintFeedbackType", "") or "abuse").lower()
        kind = "complaint" if feedback in COMPLAINT_TYPES else "report"
        return replace(common, kind=kind, complained=complained, feedback_type=feedback)
    return replace(common, kind="delivered")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _heuristic(msg: Message, common: Returned) -> Returned:
    """A bounce in an MTA's own format: flufl.bounce finds the addresses, the text the
    code and whether it is permanent."""
    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # a detector choking on odd input: treat the mail as unclear
        return common
    text = _own_words(_human_text(msg))
    failures = []
    # flufl.bounce answers sets: sorted, so a message always reads the same
    for raw_address, permanent_failure in [(a, False) for a in sorted(temporary)] + [
        (a, True) for a in sorted(permanent)
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
    code, said = deciding_status("", context or text)
    if not code and context:  # the code stands elsewhere in the report's own words
        code = deciding_status("", text)[0]
    code = code or default
    hard = permanent and is_hard(code, said)
    return Failure(address, code, hard, _short(context))


def _failures_in_text(msg: Message, *, permanent: bool, default: str = "") -> list[Failure]:
    """Addresses a mailer daemon's own words name, before the copy of the message: the
    last resort for formats no detector knows. The report's own From and To are not
    among them (the daemon and us)."""
    own = _own_words(_human_text(msg))
    exclude = {parseaddr(str(msg.get(h, "")))[1].lower() for h in ("From", "To", "Reply-To")}
    found = dict.fromkeys(a.lower().rstrip(".") for a in _ADDRESS.findall(own))
    return [
        _failure(own, address, permanent, default)
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
    encoding = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if encoding in ("base64", "quoted-printable"):  # the parser read the encoded text
        return _text_blocks(_decoded(payload, encoding))
    if isinstance(payload, list) and part.get_content_type() in _DELIVERY_STATUS[1:]:
        # the parser reads blocks only in message/delivery-status; here the first block
        # is a message and the rest its body
        return _text_blocks("".join(m.as_string() for m in payload if isinstance(m, Message)))
    if isinstance(payload, list):
        return [
            [(k.lower(), str(v)) for k, v in m.items()] for m in payload if isinstance(m, Message)
        ]
    return _text_blocks(payload if isinstance(payload, str) else "")


def _decoded(payload: Any, encoding: str) -> str:
    """The text of a message/* part sent encoded (which the parser cannot open)."""
    if isinstance(payload, list):
        text = "".join(m.as_string() if isinstance(m, Message) else str(m) for m in payload)
    else:
        text = str(payload)
    try:
        data = (
            base64.b64decode(re.sub(r"\s+", "", text))
            if encoding == "base64"
            else quopri.decodestring(text.encode("ascii", "replace"))
        )
    except ValueError:
        return ""
    return data.decode("utf-8", "replace")


def _text_blocks(text: str) -> list[list[tuple[str, str]]]:
    """Blank-line separated blocks of "Field: value" lines (continuations folded in)."""
    blocks = re.split(r"\r?\n\s*\r?\n", text.strip())
    parser = HeaderParser()
    found = []
    for block in blocks:
        lines = [line for line in block.splitlines() if re.match(r"[\w-]+:|[ \t]", line)]
        found.append([(k.lower(), str(v)) for k, v in parser.parsestr("\n".join(lines)).items()])
    return found


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


def _quoted_message_ids(body: bytes) -> list[str]:
    """Message-IDs in the report's body: the returned message's, digest's own included."""
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
                charset = part.get_content_charset() or "utf-8"
                try:
                    return payload.decode(charset, "replace")[:20_000]
                except LookupError:  # a charset Python does not know
                    return payload.decode("utf-8", "replace")[:20_000]
    return ""


def _own_words(text: str) -> str:
    """The report's own words: the text before the copy of the returned message."""
    return _COPY_STARTS.split(text, maxsplit=1)[0]


def _context(text: str, address: str) -> str:
    """The lines around where the report names the address."""
    at = text.lower().find(address)
    if at < 0:
        return ""
    return text[max(0, at - 200) : at + len(address) + 400]


def _short(text: str) -> str:
    return " ".join(text.split())[:300]
