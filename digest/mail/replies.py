"""What a relay's reply means: one table, by the phase of the transaction and the reply's
enhanced status code (RFC 5321, RFC 3463).

Only a refusal of the recipient's address takes a reader off the list. Everything else a
relay can say (its own policy, a refusal of the message, a limit, protocol garbage) is
about the relay or the message: the message fails, nobody is blamed, and `send --resume`
tries it again once the cause is fixed.

    phase        reply                                         outcome
    any          421, or no reply / garbage / a dropped line   deferred, reconnect
    any          other 4xx                                     deferred (retried)
    MAIL         5xx                                           failed, the run stops
    RCPT         5xx about the address: 5.1.x (not 5.1.7 or    bounced: the reader is
                 5.1.8, which are about the sender), 5.2.1,    taken off the list, once
                 or no enhanced code (or 5.0.0) with words     the run shows the relay
                 that say the mailbox does not exist           delivers to others
                                                               (`breaker`)
    RCPT         any other 5xx (5.7.x relay denied, auth       failed, counts as a relay
                 required; 5.2.2, 5.3.x, 5.4.x, 5.5.x, 5.6.x)  refusal
    DATA, "."    5xx (content refused, too big, line too long) failed, counts as a relay
                                                               refusal

A run of relay refusals in a row stops the send (`[smtp] stop_after_refusals`); so do
refusals of addresses that look like the relay's set-up, not the readers (`breaker`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum

from digest.addresses import normalize_email
from digest.errors import RowError
from digest.models import DeliveryStatus


class Phase(StrEnum):
    """Where in an SMTP transaction a reply came."""

    MAIL = "MAIL FROM"
    RCPT = "RCPT TO"
    DATA = "DATA"
    DOT = "end of data"  # the reply to the final "."


# An RFC 3463 code as its own token: "5.1.1", never part of "v4.6.1" or "10.5.1.2".
STATUS_CODE = re.compile(r"(?<![\w.])([245])\.(\d{1,3})\.(\d{1,3})(?![\w.]|\.\d)")

# An address that is gone for good, said in words (for replies and reports that carry no
# usable code). Words about a whole domain that does not exist count too.
ADDRESS_GONE = re.compile(
    r"user unknown|unknown user|unknown (?:local |e-?mail )?(?:recipient|address|user)"
    r"|no such (?:user|mailbox|recipient|address|account|person|local user)"
    r"|(?:user|mailbox|recipient|address|account|e-?mail address)(?: name)? "
    r"(?:does not|doesn't|did not) exist|invalid (?:recipient|mailbox|address|user)\b"
    r"|mailbox (?:not found|does not exist)|recipient not found"
    r"|(?:user|recipient|address|mailbox)(?: name)? (?:is |was )?not (?:recognized|found|known)"
    r"|(?:address|recipient) (?:wasn.?t|was not) found"
    r"|(?:account|domain|address|mailbox)(?: or domain)? may not exist"
    r"|unrouteable address|host (?:or domain name )?(?:not found|unknown)"
    r"|domain (?:name )?(?:not found|does not exist)|no mx (?:record )?found"
    r"|does not accept mail|no mail(?:box)? here|not our customer|has moved"
    r"|not listed in (?:the )?(?:public )?(?:name (?:&|and) address book|\w* ?directory)"
    r"|no (?:such )?(?:user|mailbox|person) (?:by that name|at this address|here)"
    r"|address (?:is )?(?:no longer|not) (?:valid|in use)"
    r"|recipient address rejected: (?:user unknown|undeliverable)"
    r"|(?:does not|doesn't) have an? (?:[\w.-]+ )?(?:account|mailbox)"
    # the words of the MTAs and hosts most bounces come from (Sendmail, qmail, Exim,
    # Exchange and Microsoft 365, Gmail, Yahoo, Courier, Domino), and RFC 5321's own
    r"|(?:account|address|mailbox|user|recipient)\b[^.\n]{0,40}?\b(?:does not|doesn't|did not)"
    r" exist|(?:user|recipient|rcpt) (?:does )?not exist"
    r"|(?:e-?mail )?address (?:is )?unknown|unknown (?:mailbox|local.?part|e-?mail address)"
    r"|recipient (?:address )?unknown|unknown or illegal alias|\bbad (?:destination )?"
    r"(?:mailbox |e-?mail )?(?:address|recipient)|\bbadrcptto\b|can'?t accept user"
    r"|(?:is )?not an? (?:known|valid|active) (?:user|mailbox|recipient|address)"
    r"|not a valid user|mailbox (?:is )?(?:invalid|unavailable|not present)"
    r"|no (?:such )?(?:account|mailbox) (?:by that name|found|available)"
    r"|no such (?:domain|e-?mail)|non-?existent (?:user|address|recipient|mailbox|domain|host)"
    r"|(?:e-?mail )?address (?:you entered )?(?:couldn'?t|could not|cannot|can'?t) be found"
    r"|destination addresses were unknown|no valid recipients|no one at this address"
    r"|(?:address|account|mailbox) (?:is )?no longer (?:active|available|valid)"
    r"|recipient ?not ?found|recipientnotfound"
    r"|recipient address rejected(?:: access denied|: invalid|: unknown| ?\.)"
    r"|mail domain [^.\n]{0,40}?unknown|unknown host|unroutable address|null ?mx\b"
    r"|couldn'?t find any host|has been replaced by|not a local address"
    # the same in the languages bounces most often come in
    r"|n'existe pas|existiert nicht|unbekannt|no existe|non esiste|n[ãa]o existe"
    r"|inexistente|destinatario desconocido|utilisateur inconnu",
    re.I,
)


def status_code(text: str) -> tuple[int, int, int] | None:
    """The first RFC 3463 code standing alone in ``text``."""
    found = STATUS_CODE.search(text)
    return (int(found[1]), int(found[2]), int(found[3])) if found else None


def says_address_is_gone(text: str) -> bool:
    """Whether the words say the mailbox (or its whole domain) does not exist."""
    return bool(ADDRESS_GONE.search(text))


def refuses_the_address(text: str) -> bool:
    """Whether a 5xx reply to RCPT is about the recipient's address itself."""
    code = status_code(text[:20])  # an enhanced code leads the reply's text
    if code is None or code[1:] == (0, 0):
        return says_address_is_gone(text)
    _, subject, detail = code
    if subject == 1:
        return detail not in (7, 8)  # 5.1.7 / 5.1.8: the sender's address is bad
    return (subject, detail) == (2, 1)  # the mailbox is disabled


@dataclass(frozen=True)
class Verdict:
    """What one reply means for the message and the reader."""

    status: DeliveryStatus  # deferred, failed or bounced
    why: str  # the relay's own words with the phase, for the ledger and the user
    phase: Phase | None = None
    code: tuple[int, int, int] | None = None  # the enhanced status code, when given
    bounces_reader: bool = False  # only a refusal of the address itself
    relay_refused: bool = False  # the relay or the message, not the reader: counts in a row
    stops_run: bool = False  # nothing can go while this holds (the sender is refused)
    reconnect: bool = False
    provider: str = ""  # the provider's API that answered, "" for a relay


def judge(phase: Phase, code: int, text: str) -> Verdict:
    """The outcome table above: one reply at one phase."""
    words = " ".join(text.split())[:300]
    why = f"{code} {words} (reply to {phase})"
    enhanced = status_code(words[:20])
    if code == 421 or not 200 <= code < 600:
        return Verdict(DeliveryStatus.DEFERRED, why, phase, enhanced, reconnect=True)
    if code < 500:
        return Verdict(DeliveryStatus.DEFERRED, why, phase, enhanced)
    if phase is Phase.MAIL:
        return Verdict(DeliveryStatus.FAILED, why, phase, enhanced, stops_run=True)
    if phase is Phase.RCPT and refuses_the_address(text):
        return Verdict(DeliveryStatus.BOUNCED, why, phase, enhanced, bounces_reader=True)
    return Verdict(DeliveryStatus.FAILED, why, phase, enhanced, relay_refused=True)


def lost(what: str) -> Verdict:
    """The connection dropped, timed out or spoke garbage: nobody is to blame."""
    return Verdict(DeliveryStatus.DEFERRED, what, reconnect=True)


def refusal_hint(verdict: Verdict) -> str:
    """What to check when relay refusals, or refusals of readers' addresses that are
    the relay's (or the provider's) set-up, stop a run; "" for other verdicts."""
    if verdict.bounces_reader and verdict.provider:
        return (
            f"{verdict.provider} refuses the recipients of every message: check the sender "
            "([newsletter] from, a well-formed address on a domain verified with "
            f"{verdict.provider}) and the domain set up there"
        )
    if verdict.bounces_reader:
        return (
            'a relay answers "User unknown in local recipient table" when it takes the '
            "readers' domains for its own: on Postfix check relay_domains, mydestination "
            "and local_recipient_maps (a relay for others' domains lists none of them), "
            "or its recipient verification; and that [smtp] host is the relay you mean"
        )
    if not verdict.relay_refused:
        return ""
    if verdict.phase is Phase.RCPT and verdict.code is not None and verdict.code[1] == 7:
        return (
            "the relay does not accept mail for other domains from this sender: check that "
            "it relays for this machine (Postfix: mynetworks or a SASL login; set [smtp] "
            "username and DIGEST_SMTP_PASSWORD) and that [smtp] return_path is allowed"
        )
    if verdict.phase is Phase.RCPT:
        return "check the relay's log for why it refuses these recipients"
    return (
        "the relay refuses the message itself (content, size or policy): check the relay's "
        "log, run `digest lint`, and compare [digest] max_message_kb with its size limit"
    )


# ---------------------------------------------------------------- providers' APIs

# A provider's API answers with an HTTP status and an error name, not an SMTP reply.
# Each answer is read as the SMTP reply it means (the phase and the code), and the same
# table judges it: a refused address bounces that reader; an account, a quota or a key
# problem stops the run (the MAIL phase); a refused message fails and counts in a row;
# throttling and the provider's own failures are retried. A bad address that is not the
# reader's (words that name the sender or the request, like Mailgun's "'from' parameter
# is not a valid address", or SES's bare "Illegal address" when the recipient is
# well-formed) is the run's: it stops the run and bounces nobody.
_THROTTLED = re.compile(r"throttl|too ?many ?requests|rate exceeded|slow down", re.I)
_ACCOUNT = re.compile(
    r"not (?:yet )?verified|not authori[sz]ed|authority to send|access ?denied|forbidden|"
    r"invalid.*(?:token|key|credential)|signature does not match|unrecognized ?client|"
    r"sending ?paused|account|suspended|disabled|quota|sandbox|configuration set|"
    r"domain not found|unknown domain|free accounts are for test",
    re.I,
)
_BAD_ADDRESS = re.compile(
    r"illegal address|invalid (?:e-?mail )?address|not a valid address|missing final '@|"
    r"domain contains illegal|address is not valid|malformed (?:address|recipient)|"
    r"'to' parameter is not a valid",
    re.I,
)
_TOO_BIG = re.compile(r"too (?:large|big)|exceeds? (?:the )?(?:maximum|size)", re.I)
# Words that put the bad address on the sender's side or the request's, not the reader's.
_NAMES_SENDER = re.compile(
    r"\bfrom\b|\bsender\b|\bsource\b|reply-?to|return-?path|\bheader|\brequest\b|"
    r"\bparameter\b(?<!'to' parameter)",
    re.I,
)
_NO_SENDER = re.compile(
    r"(?:'from'|\bfrom\b|\bsender\b|\bsource\b)[^.;]{0,30}\b(?:missing|required|not "
    r"specified|empty)|\b(?:missing|no) (?:'from'|from|sender|source)\b",
    re.I,
)
_NAMES_RECIPIENT = re.compile(r"'to'|\bto\b (?:parameter|address)|recipient|destination", re.I)


def api_verdict(
    provider: str, http_status: int, error: str, message: str, recipient: str = ""
) -> Verdict:
    """What a provider's API error means, by the table above: its HTTP status, its
    error name (``error``, "" when it gave none), its words, and the ``recipient`` of
    the call (a bare "bad address" about a well-formed recipient is the sender's)."""
    return replace(
        _api_verdict(provider, http_status, error, message, recipient), provider=provider
    )


def _api_verdict(
    provider: str, http_status: int, error: str, message: str, recipient: str
) -> Verdict:
    words = f"{provider}: HTTP {http_status} {error} {message}".strip()
    said = f"{error} {message}"
    if http_status == 429 or _THROTTLED.search(said):
        if "quota" in said.lower() or "daily" in said.lower():
            return judge(Phase.MAIL, 550, f"5.7.0 {words}")  # nothing more goes today
        return judge(Phase.MAIL, 454, f"4.7.0 {words}")
    if http_status >= 500:
        return judge(Phase.MAIL, 421, f"4.3.0 {words}")
    if http_status in (401, 402, 403) or _ACCOUNT.search(said):
        return judge(Phase.MAIL, 550, f"5.7.1 {words}")
    if _BAD_ADDRESS.search(said) or _NO_SENDER.search(said):
        if _NO_SENDER.search(said) or _is_the_runs(said, recipient):
            return judge(
                Phase.MAIL,
                553,
                f"5.1.7 {words}; the address {provider} refuses is not the reader's: check "
                "the sender ([newsletter] from: a well-formed address, on a domain "
                f"verified with {provider}) and the message's headers",
            )
        return judge(Phase.RCPT, 553, f"5.1.3 {words}")
    if http_status == 413 or _TOO_BIG.search(said):
        return judge(Phase.DOT, 552, f"5.3.4 {words}")
    return judge(Phase.DOT, 554, f"5.6.0 {words}")


def _is_the_runs(said: str, recipient: str) -> bool:
    """Whether a provider's "bad address" is about the sender or the request: its words
    name them, or name nobody while the recipient is well-formed."""
    if _NAMES_RECIPIENT.search(said):
        return False
    if _NAMES_SENDER.search(said):
        return True
    if not recipient:
        return False
    try:
        normalize_email(recipient)
    except RowError:
        return False  # the reader's address is malformed: the refusal is about it
    return True
