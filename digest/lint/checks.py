"""The checks `digest lint` runs on one message as it would be sent: pure functions over
its parsed HTML, its text and its decoded subject, each returning Findings.

Errors make the edition unfit to send; warnings inform. What the stock template does on
purpose is declared in its own source (``digest-lint: accept ...``) and is not warned
about; a template that adds more is told about the rest.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from digest.lint.colors import AA_LARGE, AA_NORMAL, text_colours
from digest.models import COLUMN_WIDTH

MAX_SUBJECT = 78
_DECLARATION = re.compile(r"(?<![\w-])([a-z-]+)\s*:", re.I)
_ELEMENT_FEATURES = {
    **{f"h{i}": "html-h1-h6" for i in range(1, 7)},
    "ul": "html-lists",
    "ol": "html-lists",
    "li": "html-lists",
    "a": "html-anchor-links",
}
_ACCEPT = re.compile(r"digest-lint:\s*accept\b([^\n]*)")
# A word this long cannot sit in a 320 px column (less its padding) at body sizes.
LONGEST_UNBROKEN = 30
_BREAKS = re.compile(
    r"(?:overflow-wrap|word-wrap)\s*:\s*(?:anywhere|break-word)|word-break\s*:\s*break-(?:all|word)",
    re.I,
)
_RTL_LANGUAGES = ("ar", "he", "fa", "ur", "ps", "sd", "ug", "yi", "dv", "ckb")


@dataclass(frozen=True)
class Finding:
    """One check's result: errors fail the lint, warnings inform, notes say what was
    not checked."""

    check: str
    level: str  # error, warning, note
    message: str


def client_support() -> dict[str, Any]:
    """The packaged client-support table."""
    text = resources.files("digest.lint").joinpath("client_support.json").read_text("utf-8")
    return dict(json.loads(text))


def accepted_features(folder: Path) -> frozenset[str]:
    """The client-support features the templates in ``folder`` declare they use on
    purpose (``digest-lint: accept css-at-media ...`` in a template's comment)."""
    found: set[str] = set()
    for template in sorted(folder.glob("*.j2")):
        for match in _ACCEPT.finditer(template.read_text(encoding="utf-8", errors="replace")):
            found.update(re.findall(r"[a-z0-9-]+", match.group(1)))
    return frozenset(found)


def size(html_bytes: int, budget_kb: int) -> list[Finding]:
    """The HTML part as sent is within the budget (Gmail clips past ~102 KB)."""
    kb = html_bytes / 1024
    if kb > budget_kb:
        return [
            Finding(
                "size",
                "error",
                f"the HTML part is {kb:.0f} KB as sent, over the {budget_kb} KB budget; "
                "Gmail clips HTML past ~102 KB and hides the unsubscribe link",
            )
        ]
    return []


def links(page: Any) -> list[Finding]:
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


def images(page: Any, natural: Mapping[str, int]) -> list[Finding]:
    """Alt text, whole-pixel sizes, a width Outlook can use, and no picture shown wider
    than it is (``natural``: the known widths by address)."""
    found = []
    no_width: list[str] = []
    no_height: list[str] = []
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
        shown = _shown_width(img)
        own = natural.get(src, 0)
        if own and shown and shown > own:
            found.append(
                Finding(
                    "stretched",
                    "error",
                    f"shown {shown} px wide but the picture is {own} px: it is stretched and "
                    f"blurred; show it at its own width: {src}",
                )
            )
        if img.get("width") is None:
            no_width.append(src)
        elif img.get("height") is None:
            no_height.append(src)
    # Said once for the message, not once a picture: one import fixes them all.
    if no_width:
        found.append(
            Finding(
                "images",
                "warning",
                f"no width (its size is unknown) on {_pictures(no_width)}: Outlook for "
                "Windows shows it at its own size; import image_width and image_height",
            )
        )
    if no_height:
        found.append(
            Finding(
                "images",
                "warning",
                f"no height (its size is unknown) on {_pictures(no_height)}: the box "
                "collapses while images are blocked; import image_width and image_height",
            )
        )
    return found


def _pictures(sources: list[str]) -> str:
    """'https://x/a.jpg' for one picture, '3 pictures (https://x/a.jpg, ...)' for more."""
    if len(sources) == 1:
        return sources[0]
    return f"{len(sources)} pictures ({sources[0]}, ...)"


def _shown_width(img: Any) -> int:
    """The width an img is drawn at in the column: its style's px width, 100% of the
    column, or its width attribute."""
    style = (img.get("style") or "").replace(" ", "").lower()
    declared = re.search(r"(?:^|;)width:(\d+)(px|%)", style)
    if declared and declared.group(2) == "%":
        return COLUMN_WIDTH * int(declared.group(1)) // 100
    if declared:
        return int(declared.group(1))
    value = img.get("width") or ""
    return int(value) if value.isdigit() else 0


def colours(page: Any) -> list[Finding]:
    """Every visible text colour meets WCAG AA on its background."""
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


def document(page: Any, language: str = "") -> list[Finding]:
    """A lang (the newsletter's, when it is known), a direction for right-to-left
    languages, a title and one h1."""
    found = []
    lang = page.get("lang") or ""
    if not lang:
        found.append(Finding("lang", "error", "<html> has no lang attribute"))
    elif language and lang.lower() != language.lower():
        found.append(
            Finding(
                "lang",
                "error",
                f'<html lang="{lang}"> but [newsletter] language is "{language}": screen '
                "readers would read it in the wrong voice",
            )
        )
    if (language or lang).lower().split("-")[0] in _RTL_LANGUAGES and page.get("dir") != "rtl":
        found.append(
            Finding(
                "dir", "error", f'{language or lang} is written right to left: <html dir="rtl">'
            )
        )
    title = page.find(".//title")
    if title is None or not (title.text or "").strip():
        found.append(Finding("title", "error", "the HTML part has no <title>"))
    headings = len(page.findall(".//h1"))
    if headings != 1:
        found.append(Finding("h1", "error", f"{headings} <h1> elements; a page has one, its title"))
    return found


def text_part(text: str) -> list[Finding]:
    """A plain-text twin that is there and is text."""
    if len(text.strip()) < 100:
        return [Finding("text", "error", "the plain-text part is missing or nearly empty")]
    if re.search(r"</?(p|div|table|td|a|span)\b[^>]*>", text, re.I):
        return [Finding("text", "error", "the plain-text part contains HTML tags")]
    return []


def subject(decoded: str) -> list[Finding]:
    """A subject a phone shows whole: measured in characters as the reader sees them,
    not as the header encodes them."""
    if not decoded.strip():
        return [Finding("subject", "error", "no subject")]
    if len(decoded) > MAX_SUBJECT:
        return [
            Finding(
                "subject",
                "warning",
                f"subject is {len(decoded)} characters: phones show about {MAX_SUBJECT} and "
                "cut the rest (a long {top_title} does this; a shorter [digest] subject, or "
                "a shorter headline, shows whole)",
            )
        ]
    return []


def preheader(page: Any) -> list[Finding]:
    """An inbox preview line."""
    found = page.find_class("preheader")
    if not found or not found[0].text_content().strip():
        return [Finding("preheader", "error", "no preheader (the inbox preview line)")]
    return []


def long_words(page: Any) -> list[Finding]:
    """Words and addresses too long for a phone's column, where nothing lets them break
    (no overflow-wrap or word-break on them or around them)."""
    found = []
    for element in page.iter():
        if not isinstance(element.tag, str) or element.tag in ("style", "title", "head"):
            continue
        for text, holder in ((element.text, element), (element.tail, element.getparent())):
            words = [w for w in unbreakable_runs(text or "") if len(w) > LONGEST_UNBROKEN]
            if words and holder is not None and not _may_break(holder):
                found.append(
                    Finding(
                        "overflow",
                        "error",
                        f"{words[0][:60]!r} cannot break and is wider than a phone's column; "
                        "give the text overflow-wrap: anywhere",
                    )
                )
    return found


def _breaks_anywhere(char: str) -> bool:
    """True for a character a line may break before or after without a space: the
    scripts written without spaces (Chinese, Japanese, Korean, wide and full-width
    forms; Thai, Lao, Khmer and Myanmar, broken by a dictionary)."""
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return True
    point = ord(char)
    return 0x0E00 <= point <= 0x0EFF or 0x1780 <= point <= 0x17FF or 0x1000 <= point <= 0x109F


def unbreakable_runs(text: str) -> list[str]:
    """The runs of ``text`` a browser cannot wrap inside: its words, each split further
    wherever the script itself lets a line break (`_breaks_anywhere`)."""
    runs: list[str] = []
    for word in text.split():
        run = ""
        for char in word:
            if _breaks_anywhere(char):
                if run:
                    runs.append(run)
                run = ""
            else:
                run += char
        if run:
            runs.append(run)
    return runs


def _may_break(element: Any) -> bool:
    while element is not None:
        if _BREAKS.search(element.get("style") or ""):
            return True
        element = element.getparent()
    return False


def support(page: Any, accepted: Iterable[str] = ()) -> list[Finding]:
    """CSS and HTML that Gmail, Outlook for Windows, Apple Mail or Yahoo ignore, less
    what the template declares it uses on purpose."""
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
    for slug in sorted((used & set(table["features"])) - set(accepted)):
        feature = table["features"][slug]
        ignored = [names[c] for c in names if feature.get(c) == "no"]
        if ignored:
            findings.append(
                Finding(
                    "clients", "warning", f"{feature['title']}: ignored by {', '.join(ignored)}"
                )
            )
    return findings
