"""Deliverability and accessibility checks on a rendered edition (`digest lint`).

Errors (exit 1): over the size budget, links that are not absolute and well formed,
images without alt text or dimensions, no `lang` or title, a missing or unreadable
plain-text part, a subject longer than 78 characters, no preheader. Warnings: CSS and
HTML that Gmail, Outlook for Windows, Apple Mail or Yahoo ignore, from the compact
table in ``client_support.json`` (derived from caniemail.com's data, MIT).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from datetime import datetime
from email import message_from_bytes
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import lxml.html
from sqlite_utils import Database

from digest import store
from digest.config import Config
from digest.delivery.colors import AA_LARGE, AA_NORMAL, text_colours
from digest.delivery.message import html_part_size, message_parts
from digest.delivery.sending import preview_variants
from digest.models import Week

MAX_SUBJECT = 78
_DECLARATION = re.compile(r"(?<![\w-])([a-z-]+)\s*:", re.I)
_ELEMENT_FEATURES = {
    **{f"h{i}": "html-h1-h6" for i in range(1, 7)},
    "ul": "html-lists",
    "ol": "html-lists",
    "li": "html-lists",
    "a": "html-anchor-links",
}


@dataclass(frozen=True)
class Finding:
    """One check's result: errors fail the lint, warnings inform."""

    check: str
    level: str  # error, warning
    message: str


def client_support() -> dict[str, Any]:
    """The packaged client-support table."""
    text = resources.files("digest.delivery").joinpath("client_support.json").read_text("utf-8")
    return dict(json.loads(text))


def lint_message(raw: bytes, budget_kb: int) -> list[Finding]:
    """Every check on one subscriber's message as it would be sent."""
    message = message_from_bytes(raw)
    html, text = message_parts(raw)
    page = lxml.html.document_fromstring(html or "<html></html>")
    subject = str(message.get("Subject", ""))
    return [
        *_size(raw, budget_kb),
        *_links(page),
        *_images(page),
        *_colours(page),
        *_document(page),
        *_text_part(text),
        *_subject(subject),
        *_preheader(page),
        *_support(page, html),
    ]


def _size(raw: bytes, budget_kb: int) -> list[Finding]:
    size = html_part_size(raw) / 1024
    if size > budget_kb:
        return [
            Finding(
                "size",
                "error",
                f"the HTML part is {size:.0f} KB as sent, over the {budget_kb} KB budget; "
                "Gmail clips HTML past ~102 KB and hides the unsubscribe link",
            )
        ]
    return []


def _links(page: Any) -> list[Finding]:
    """Every link is absolute (http, https, mailto), or an in-page anchor whose target
    is in the email."""
    ids = {e.get("id") for e in page.iter() if e.get("id")}
    found = []
    for link in page.iter("a"):
        href = (link.get("href") or "").strip()
        if href.startswith("#") and len(href) > 1:
            if href[1:] not in ids:
                found.append(Finding("links", "error", f"an in-page link to nothing: {href}"))
            continue
        parts = urlsplit(href)
        ok = (parts.scheme in ("http", "https") and parts.netloc) or parts.scheme == "mailto"
        if not ok or re.search(r"\s", href):
            message = f"not an absolute, well-formed link: {href or '(empty)'}"
            found.append(Finding("links", "error", message))
    return found


def _images(page: Any) -> list[Finding]:
    found = []
    for img in page.iter("img"):
        src = img.get("src", "")
        if img.get("alt") is None:
            found.append(Finding("images", "error", f"no alt text: {src}"))
        for side in ("width", "height"):
            value = img.get(side)
            if value is not None and not value.isdigit():
                found.append(
                    Finding(
                        "images",
                        "error",
                        f"{side}={value!r} is not a whole number of pixels (Outlook sizes "
                        f"images from it): {src}",
                    )
                )
        if img.get("width") is None:
            found.append(Finding("images", "error", f"no width: {src}"))
        elif img.get("height") is None:
            found.append(
                Finding(
                    "images",
                    "warning",
                    f"no height (its size is unknown): the box collapses while images "
                    f"are blocked; import image_width and image_height: {src}",
                )
            )
    return found


def _colours(page: Any) -> list[Finding]:
    found = []
    for run in text_colours(page):
        if run.hidden:
            continue
        if run.colour == run.background:
            found.append(
                Finding("contrast", "error", f"text in its background's colour: {run.text[:60]!r}")
            )
            continue
        needed = AA_LARGE if run.large else AA_NORMAL
        if run.ratio < needed:
            found.append(
                Finding(
                    "contrast",
                    "error",
                    f"{run.colour} on {run.background} is {run.ratio:.2f}:1, under "
                    f"{needed}:1 (WCAG AA): {run.text[:60]!r}",
                )
            )
    return found


def _document(page: Any) -> list[Finding]:
    found = []
    if not page.get("lang"):
        found.append(Finding("lang", "error", "<html> has no lang attribute"))
    title = page.find(".//title")
    if title is None or not (title.text or "").strip():
        found.append(Finding("title", "error", "the HTML part has no <title>"))
    headings = len(page.findall(".//h1"))
    if headings != 1:
        found.append(Finding("h1", "error", f"{headings} <h1> elements; a page has one, its title"))
    return found


def _text_part(text: str) -> list[Finding]:
    if len(text.strip()) < 100:
        return [Finding("text", "error", "the plain-text part is missing or nearly empty")]
    if re.search(r"</?(p|div|table|td|a|span)\b[^>]*>", text, re.I):
        return [Finding("text", "error", "the plain-text part contains HTML tags")]
    return []


def _subject(subject: str) -> list[Finding]:
    if not subject.strip():
        return [Finding("subject", "error", "no subject")]
    if len(subject) > MAX_SUBJECT:
        return [
            Finding(
                "subject",
                "error",
                f"subject is {len(subject)} characters; keep it "
                f"under {MAX_SUBJECT} so phones show it whole",
            )
        ]
    return []


def _preheader(page: Any) -> list[Finding]:
    found = page.find_class("preheader")
    if not found or not found[0].text_content().strip():
        return [Finding("preheader", "error", "no preheader (the inbox preview line)")]
    return []


def _support(page: Any, html: str) -> list[Finding]:
    table = client_support()
    names = table["_clients"]
    used: set[str] = set()
    for element in page.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        used.add(_ELEMENT_FEATURES.get(tag, f"html-{tag}"))
        used.update(f"css-{p.lower()}" for p in _DECLARATION.findall(element.get("style", "")))
    for style in page.iter("style"):
        used.update(f"css-{p.lower()}" for p in _DECLARATION.findall(style.text or ""))
        if "@media" in (style.text or ""):
            used.add("css-at-media")
    findings = []
    for slug in sorted(used & set(table["features"])):
        feature = table["features"][slug]
        ignored = [names[c] for c in names if feature.get(c) == "no"]
        if ignored:
            findings.append(
                Finding(
                    "clients", "warning", f"{feature['title']}: ignored by {', '.join(ignored)}"
                )
            )
    return findings


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
    config: Config, db: Database, week: Week, now: datetime, *, links: bool = False
) -> LintReport | None:
    """Check every copy the week would send (all topics, and each topic choice of the
    active subscribers) as `send` builds it; None when it has no articles.

    With ``links``, every link is also fetched (once, from the all-topics copy).
    """
    previews = preview_variants(config, db, week, now)
    if not previews:
        return None
    names = dict(store.all_topics(db))
    findings: list[Finding] = []
    seen: set[tuple[str, str, str]] = set()
    for preview in previews:
        copy = _copy_name(preview.key, names)
        for finding in lint_message(preview.message, config.digest.max_message_kb):
            key = (finding.check, finding.level, finding.message)
            if key in seen:
                continue  # the same finding in every copy is said once
            seen.add(key)
            findings.append(
                replace(finding, message=f"{finding.message}{copy}")
                if copy and finding.level == "error"
                else finding
            )
    if links:
        findings += check_links(previews[0].message)
    return LintReport(week.label, findings)


def _copy_name(key: str, names: dict[str, str]) -> str:
    """' (in the copy for Cybersecurity, DNS)' for a topic copy; '' for the all-topics one."""
    if not key:
        return ""
    return f" (in the copy for {', '.join(names.get(s, s) for s in key.split(','))})"
