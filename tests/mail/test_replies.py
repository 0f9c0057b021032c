"""The one table of SMTP outcomes: only a refusal of the address itself bounces a reader."""

import pytest

from digest.mail.replies import Phase, judge, refuses_the_address, status_code

RCPT, MAIL, DATA, DOT = Phase.RCPT, Phase.MAIL, Phase.DATA, Phase.DOT


@pytest.mark.parametrize(
    ("phase", "code", "text", "status", "bounces", "relay"),
    [
        # the recipient's address refused: the only way a relay takes a reader off
        (
            RCPT,
            550,
            "5.1.1 <ann@example.org>: Recipient address rejected: User unknown",
            "bounced",
            True,
            False,
        ),
        (RCPT, 550, "5.1.10 RESOLVER.ADR.RecipientNotFound", "bounced", True, False),
        (
            RCPT,
            550,
            "5.2.1 The email account that you tried to reach is disabled",
            "bounced",
            True,
            False,
        ),
        (RCPT, 550, "No such user here", "bounced", True, False),
        (RCPT, 550, "5.0.0 <bob@example.org>... User unknown", "bounced", True, False),
        # about the sender, the relay's policy, or the message: never the reader
        (
            RCPT,
            553,
            "5.1.8 <wrap@news.example.com>: Sender address rejected: Domain not found",
            "failed",
            False,
            True,
        ),
        (RCPT, 554, "5.7.1 <ann@example.org>: Relay access denied", "failed", False, True),
        (RCPT, 530, "5.7.0 Authentication required", "failed", False, True),
        (RCPT, 552, "5.2.2 Mailbox full", "failed", False, True),
        (RCPT, 550, "5.4.4 Unable to route", "failed", False, True),
        (RCPT, 550, "Rejected by policy", "failed", False, True),
        (RCPT, 550, "5.0.0 Rejected by policy", "failed", False, True),
        (DATA, 554, "5.5.1 Error: no valid recipients", "failed", False, True),
        (DOT, 554, "5.7.1 Message rejected: spam content", "failed", False, True),
        (DOT, 552, "5.3.4 Message size exceeds fixed limit", "failed", False, True),
        (DOT, 500, "Line too long", "failed", False, True),
        (DOT, 550, "5.1.1 User unknown", "failed", False, True),  # after DATA: the message
        (MAIL, 553, "5.7.1 Sender address rejected: not owned by user", "failed", False, False),
        # temporary, or the relay going away: retried, nobody blamed
        (
            RCPT,
            450,
            "4.1.1 <ann@example.org>: Recipient address rejected: unverified",
            "deferred",
            False,
            False,
        ),
        (DOT, 451, "4.3.0 Try again later", "deferred", False, False),
        (MAIL, 421, "4.7.0 Too many connections, closing", "deferred", False, False),
        (RCPT, 999, "what", "deferred", False, False),
    ],
)
def test_the_outcome_table(
    phase: Phase, code: int, text: str, status: str, bounces: bool, relay: bool
) -> None:
    verdict = judge(phase, code, text)
    assert (verdict.status, verdict.bounces_reader, verdict.relay_refused) == (
        status,
        bounces,
        relay,
    )
    assert str(code) in verdict.why and str(phase) in verdict.why


def test_a_refused_sender_stops_the_run_and_421_reconnects() -> None:
    assert judge(MAIL, 553, "5.7.1 not yours").stops_run
    assert judge(RCPT, 421, "4.3.2 shutting down").reconnect


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("5.1.1 user unknown", (5, 1, 1)),
        ("Diagnostic: smtp; 550 5.7.1 denied", (5, 7, 1)),
        ("Reporting-MTA: dns; MTA v4.6.1 at mx.example.org", None),  # a version, not a code
        ("host 10.5.1.2 said", None),  # part of an IP address
        ("1.2.3.4.5", None),
        ("#5.0.0 X-Notes; not listed", (5, 0, 0)),
    ],
)
def test_a_status_code_stands_alone(text: str, code: tuple[int, int, int] | None) -> None:
    assert status_code(text) == code


def test_only_the_leading_code_of_a_reply_decides() -> None:
    # a 5.7.1 reply that mentions some other code in its words is still 5.7.1
    assert not refuses_the_address("5.7.1 Relay access denied (see 5.1.1 in our FAQ)")
