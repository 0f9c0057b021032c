"""`digest lint`: every copy a week would send, checked as it would be sent.

The checks themselves are in `checks` (size, links, images, contrast, lang and dir,
title, text part, decoded subject, preheader, long words, client support); whether the
email fits a phone is measured in Chromium by `overflow` when it is installed. Errors
(exit 1) make the edition unfit to send; warnings inform; hints say what the
configuration could do better; notes say what was skipped.
"""

from __future__ import annotations

import collections
import email.policy
import re
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from email import message_from_bytes
from urllib.parse import urlsplit

import lxml.html
from sqlite_utils import Database

from digest import store
from digest.config import Config
from digest.content.copies import choose_copy
from digest.content.edition import edition_for_week
from digest.content.fetching import Reach, link_problem, reach_of
from digest.content.render import templates_dir
from digest.content.sections import section_plan, topic_choices
from digest.delivery.preview import preview_edition, preview_variants
from digest.delivery.sending import signing_config, unready
from digest.lint import checks, overflow
from digest.lint.checks import Finding, accepted_features, client_support
from digest.mail.dkimsign import sign_message
from digest.mail.message import html_part_size, message_parts
from digest.models import Copy, Edition, SubscriberStatus, Week

__all__ = [
    "Finding",
    "LintReport",
    "check_links",
    "check_one_click",
    "client_support",
    "lint_edition",
]


def lint_message(
    raw: bytes,
    budget_kb: int,
    *,
    language: str = "",
    accepted: Iterable[str] = (),
    natural: Mapping[str, int] | None = None,
) -> list[Finding]:
    """Every check on one subscriber's message as it would be sent. ``language`` is the
    newsletter's, ``accepted`` the client features its template uses on purpose,
    ``natural`` the known widths of its pictures by address."""
    message = message_from_bytes(raw, policy=email.policy.default)
    html, text = message_parts(raw)
    page = lxml.html.document_fromstring(html or "<html></html>")
    return [
        *checks.size(html_part_size(raw), budget_kb),
        *checks.links(page),
        *checks.images(page, natural or {}),
        *checks.colours(page),
        *checks.document(page, language),
        *checks.text_part(text),
        *checks.subject(str(message.get("Subject", ""))),
        *checks.preheader(page),
        *checks.long_words(page),
        *checks.support(page, accepted),
    ]


def fits_a_phone(pages: list[str]) -> list[Finding]:
    """Each page drawn at a phone's width in Chromium: an error for each that scrolls
    sideways, naming what sticks out; a note when Chromium is not there to ask."""
    fits = overflow.measure(pages)
    if fits is None:
        return [
            Finding(
                "overflow",
                "note",
                "not drawn at a phone's width: install Chromium (apt-get install chromium) "
                "and Playwright (pip install 'digest[browser]') to measure it",
            )
        ]
    return [
        Finding(
            "overflow",
            "error",
            f"{fit.scroll_width} px wide at a {fit.width} px phone: " + "; ".join(fit.sticking_out),
        )
        for fit in fits
        if fit.overflows
    ]


def check_links(raw: bytes, timeout: float = 5.0, reach: Reach | None = None) -> list[Finding]:
    """Fetch every http(s) link once; report answers that are not 2xx or 3xx, and the
    links at addresses ``reach`` does not allow (not fetched: a warning)."""
    html, _ = message_parts(raw)
    page = lxml.html.document_fromstring(html or "<html></html>")
    urls = sorted(
        {
            a.get("href")
            for a in page.iter("a")
            if (a.get("href") or "").startswith(("http://", "https://"))
        }
    )
    findings = []
    for url in urls:
        level, problem = link_problem(url, timeout, reach or Reach())
        if problem:
            findings.append(Finding("link-check", level, f"{url}: {problem}"))
    return findings


@dataclass(frozen=True)
class LintReport:
    """`digest lint`: the findings on one week's edition."""

    week: str
    findings: list[Finding]

    @property
    def errors(self) -> list[Finding]:
        """The findings that make the edition unfit to send."""
        return [f for f in self.findings if f.level == "error"]


def lint_edition(
    config: Config,
    db: Database,
    week: Week,
    now: datetime,
    *,
    links: bool = False,
    draw: bool = True,
    one_click: bool = False,
) -> LintReport | None:
    """Check every copy the week would send (all topics, and each topic choice of the
    active subscribers) as `send` builds it; None when it has no articles.

    With ``links``, every link is also fetched (once, from the all-topics copy); with
    ``draw``, each copy is drawn at a phone's width in Chromium when it is installed;
    with ``one_click``, a test reader is unsubscribed as a mailbox provider would
    (`check_one_click`).
    """
    edition = edition_for_week(config, db, week)
    if edition is None:
        return None
    previews = preview_variants(config, db, edition, week, now)
    names = dict(topic_choices(config))
    natural = {a.image_url: a.image_width for a in edition.candidates if a.image_width}
    accepted = accepted_features(templates_dir(config))
    findings: list[Finding] = [*week_findings(config, edition)]
    seen: set[tuple[str, str, str]] = set()
    for preview in previews:
        copy = _copy_name(preview.key, names)
        for finding in lint_message(
            preview.message,
            config.digest.max_message_kb,
            language=config.newsletter.language,
            accepted=accepted,
            natural=natural,
        ):
            key = (finding.check, finding.level, finding.message)
            if key in seen:
                continue  # the same finding in every copy is said once
            seen.add(key)
            findings.append(
                replace(finding, message=f"{finding.message}{copy}")
                if copy and finding.level == "error"
                else finding
            )
    if draw:
        findings += fits_a_phone([p.html for p in previews])
    if links:
        findings += check_links(previews[0].message, reach=reach_of(config))
    if one_click:
        findings += check_one_click(config, db, week, now)
    refused = unready(config)  # what `send` would refuse, said before the editor tries
    if refused:
        findings.append(Finding("config", "error", f"send refuses: {refused}"))
    return LintReport(week.label, findings)


def week_findings(config: Config, edition: Edition) -> list[Finding]:
    """What the week as a whole tells the editor: a hint when every story falls under
    one "More" heading because no sections are configured (and how to configure them),
    a warning when the all-topics copy leaves stories of the week to the web version."""
    found: list[Finding] = []
    plan = section_plan(config)
    week = len(edition.candidates) or edition.article_count
    if not plan.named and week > 1:
        counts = collections.Counter(t for a in edition.candidates for t in dict.fromkeys(a.topics))
        common = ", ".join(f'"{name}" ({n})' for name, n in counts.most_common(5))
        seen = f" (this week's commonest feed categories: {common})" if common else ""
        found.append(
            Finding(
                "sections",
                "hint",
                f'all {week} stories of the week are under one "{plan.other}" heading because '
                "no sections are configured: list the sections you want, in order, in "
                '[digest] section_order (for example section_order = ["News", "Sport"]), '
                f"and map feed categories to them in [topics]{seen}",
            )
        )
    copy = choose_copy(config, edition, "")
    if copy.more:
        limits = f"[digest] max_articles = {plan.max_articles}"
        if plan.named:
            limits += (
                f", max_per_section = {plan.max_per_section}, max_sections = {plan.max_sections}"
            )
        found.append(
            Finding(
                "cut",
                "warning",
                f"the email shows {len(copy.articles)} of the week's {copy.in_week} stories "
                f"({limits}); it says so and links the web version for the other {copy.more}. "
                "Raise the limits to carry more",
            )
        )
    found += _lead_picture(copy)
    return found


def _lead_picture(copy: Copy) -> list[Finding]:
    """A warning when the lead has no picture across the column while a story below it
    has one: the editor may rather lead with that story."""
    lead = copy.lead
    if lead is None:
        return []
    box = lead.picture(full=True)
    if box is not None and box.kind == "full":
        return []
    pictured = [
        a
        for a in copy.articles[1:]
        if (b := a.picture(full=True)) is not None and b.kind == "full" and b.known
    ]
    if not pictured:
        return []
    best = max(pictured, key=lambda a: a.image_width)
    has = (
        f"its picture is {lead.image_width} px wide, shown as a thumbnail"
        if box is not None
        else "it has no picture"
    )
    return [
        Finding(
            "pictures",
            "warning",
            f'the lead "{lead.title}" has no picture across the column ({has}) while '
            f'"{best.title}" has one {best.image_width} px wide: `digest articles feature '
            f"{best.url}` leads with it",
        )
    ]


def _copy_name(key: str, names: dict[str, str]) -> str:
    """' (in the copy for Cybersecurity, DNS)' for a topic copy; '' for the all-topics one."""
    if not key:
        return ""
    return f" (in the copy for {', '.join(names.get(s, s) for s in key.split(','))})"


# ---------------------------------------------------------------- one-click, end to end

# The test reader's mailbox: a reserved name (RFC 2606), so no mail can ever reach it.
_TEST_READER = "one-click-check-{}@digest-lint.invalid"
_ONE_CLICK = b"List-Unsubscribe=One-Click"
_RFC_8058_HEADERS = ("list-unsubscribe", "list-unsubscribe-post")


def check_one_click(
    config: Config, db: Database, week: Week, now: datetime, timeout: float = 10.0
) -> list[Finding]:
    """`lint --check-unsubscribe`: what Gmail and Yahoo do with a message, done to a test
    reader. A reader is added for the check, their copy built and signed as `send`
    would; its List-Unsubscribe URL gets ``List-Unsubscribe=One-Click`` POSTed with no
    cookie (RFC 8058) at the running `serve`, and the reader must then be out. The
    DKIM signature's ``h=`` must cover List-Unsubscribe and List-Unsubscribe-Post. The
    test reader (at a reserved ``.invalid`` address, so nothing can reach it) is erased
    afterwards, whatever happened."""
    address = _TEST_READER.format(secrets.token_hex(4))
    reader_id = store.insert_subscriber(db, address, "", [], now)
    try:
        reader = store.get_subscriber_by_id(db, reader_id)
        preview = preview_edition(config, db, week, reader, now) if reader else None
        if preview is None:
            return [Finding("one-click", "error", f"{week.label} has no edition to check")]
        raw = sign_message(signing_config(config), preview.message)
        found = _signed_headers(config, raw)
        url, problem = _one_click_url(raw)
        if problem:
            return [*found, Finding("one-click", "error", problem)]
        answer = _post_one_click(url, timeout)
        status = store.subscriber_status(db, reader_id)
        if answer:
            found.append(Finding("one-click", "error", f"POST {url}: {answer}"))
        elif status != SubscriberStatus.UNSUBSCRIBED:
            found.append(
                Finding(
                    "one-click",
                    "error",
                    f"POST {url} answered 2xx but the test reader is still {status}: a "
                    "mailbox provider's one-click would not take the reader off the list "
                    "(does `serve` use this store?)",
                )
            )
        else:
            where = url.split("/unsubscribe/")[0]
            found.append(
                Finding(
                    "one-click",
                    "note",
                    f"one-click unsubscribe works: a cookieless POST to {where}/unsubscribe/"
                    "... took the test reader off the list",
                )
            )
        return found
    finally:
        store.delete_subscriber_by_id(db, reader_id)


def _one_click_url(raw: bytes) -> tuple[str, str]:
    """The https URL of the message's List-Unsubscribe, or why there is none to use."""
    message = message_from_bytes(raw, policy=email.policy.default)
    post = str(message.get("List-Unsubscribe-Post", "")).strip()
    if post != "List-Unsubscribe=One-Click":
        return "", "no List-Unsubscribe-Post: List-Unsubscribe=One-Click header (RFC 8058)"
    links = re.findall(r"<([^>]+)>", str(message.get("List-Unsubscribe", "")))
    https = [u for u in links if u.lower().startswith("https://") or _loopback(u)]
    if not https:
        return "", (
            "List-Unsubscribe has no https URL (RFC 8058 needs one): set [newsletter] "
            f"base_url to the https address `serve` answers at (links: {', '.join(links)})"
        )
    return https[0], ""


def _loopback(url: str) -> bool:
    """An http URL to this machine (`serve` checked before its TLS proxy)."""
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")


def _post_one_click(url: str, timeout: float) -> str:
    """POST the one-click body the way a mailbox provider does; "" when it answered
    2xx, else what went wrong."""
    request = urllib.request.Request(
        url,
        data=_ONE_CLICK,
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "digest lint --check-unsubscribe",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return "" if 200 <= response.status < 300 else f"HTTP {response.status}"
    except urllib.error.HTTPError as e:
        return f"HTTP {e.code} (RFC 8058 wants 2xx to a cookieless POST)"
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        return (
            f"unreachable ({getattr(e, 'reason', e)}): is `digest serve` running and "
            "answering at [newsletter] base_url?"
        )


def _signed_headers(config: Config, raw: bytes) -> list[Finding]:
    """An error when the DKIM signature's h= leaves out List-Unsubscribe or
    List-Unsubscribe-Post; a note when digest does not sign (the relay may)."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    unfolded = re.sub(r"\r\n[ \t]+", " ", head)
    signature = next(
        (line for line in unfolded.split("\r\n") if line.lower().startswith("dkim-signature:")),
        "",
    )
    if not signature:
        return [
            Finding(
                "dkim",
                "note",
                "digest does not sign ([dkim] is empty): if your relay signs, make sure its "
                "h= covers List-Unsubscribe and List-Unsubscribe-Post (RFC 8058 section 4; "
                "Gmail and Yahoo ignore a one-click header the signature does not cover)",
            )
        ]
    tag = re.search(r"(?:^|;)\s*h\s*=\s*([^;]+)", signature.split(":", 1)[1])
    covered = {h.strip().lower() for h in (tag.group(1) if tag else "").split(":")}
    missing = [h for h in _RFC_8058_HEADERS if h not in covered]
    if missing:
        return [
            Finding(
                "dkim",
                "error",
                f"the DKIM signature's h= does not cover {', '.join(missing)} (RFC 8058 "
                "section 4): mailbox providers ignore the one-click header",
            )
        ]
    return []
