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
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from email import message_from_bytes

import lxml.html
from sqlite_utils import Database

from digest.config import Config
from digest.content.copies import choose_copy
from digest.content.edition import edition_for_week
from digest.content.render import templates_dir
from digest.content.sections import section_plan, topic_choices
from digest.delivery import checks, overflow
from digest.delivery.checks import Finding, accepted_features, client_support
from digest.delivery.message import html_part_size, message_parts
from digest.delivery.sending import preview_variants
from digest.models import Copy, Edition, Week

__all__ = ["Finding", "LintReport", "check_links", "client_support", "lint_edition"]


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


def check_links(raw: bytes, timeout: float = 5.0) -> list[Finding]:
    """Fetch every http(s) link once; report answers that are not 2xx or 3xx."""
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
        problem = _fetch_problem(url, timeout)
        if problem:
            findings.append(Finding("link-check", "error", f"{url}: {problem}"))
    return findings


def _fetch_problem(url: str, timeout: float) -> str:
    request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "digest lint"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return "" if response.status < 400 else f"HTTP {response.status}"
    except urllib.error.HTTPError as e:
        return f"HTTP {e.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        return f"unreachable ({getattr(e, 'reason', e)})"


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
) -> LintReport | None:
    """Check every copy the week would send (all topics, and each topic choice of the
    active subscribers) as `send` builds it; None when it has no articles.

    With ``links``, every link is also fetched (once, from the all-topics copy); with
    ``draw``, each copy is drawn at a phone's width in Chromium when it is installed.
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
        findings += check_links(previews[0].message)
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
