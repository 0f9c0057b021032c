"""Finding the article in a page: main-text extraction and boilerplate removal by shape.

Pure functions. Full pages go through trafilatura (the field's reference extractor);
what it returns, and plain-text bodies, are then cleaned line by line: menus,
breadcrumbs, labels, sponsor and promotion lines, sign-up and comment prompts,
bylines, datelines, timestamps and photo credits are recognised by their shape
(length, punctuation, separators, capitalisation), not by any one site's phrases.
"""

from __future__ import annotations

import logging
import re

from digest.content.blocks import Block

log = logging.getLogger(__name__)

MAX_PAGE_CHARS = 2_000_000  # the opening is near the top; 5 MB pages are cut here
_FULL_PAGE = re.compile(r"<(!doctype|html|head|body|nav|header|footer)\b", re.I)
_TERMINAL = re.compile(r"[.!?…][\"'”’)\]]*$")
_LIST_MARKER = re.compile(r"^\s*(?:[-•*–·▪►]|\d{1,2}[.)])\s+")
_BREADCRUMB = re.compile(r"\S\s+(?:/|>|»|›|\|)\s+\S")
_BYLINE = re.compile(  # "By Ann Author, Staff Writer": capitalised names after "by"
    r"^(?i:(?:written|posted|reported|story|words|text)\s+)?(?i:by)\s+[A-Z][\w.'’-]*"
    r"(?:\s+[A-Z][\w.'’-]*){0,4}(?:\s*(?:,|and|&|\||-|—)\s*.{0,60})?$"
)
_CREDIT = re.compile(
    r"^(?:\(?(?:photo|image|picture|video|illustration|graphic|credit|source|caption)s?\b"
    r"[^a-z]{0,3}|.{0,80}(?:getty images|shutterstock|ap photo|afp|reuters|file photo)\)?$)",
    re.I,
)
_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_TIMESTAMP = re.compile(
    rf"^(?:(?:updated|published|posted|last updated|modified)\b.{{0,60}}"
    rf"|[\w ,.:]*\b(?:\d{{1,2}}:\d{{2}}|\d{{1,2}}\s*[ap]\.?m\.?)\b[\w ,.:/()-]*"
    rf"|(?:\w+,?\s+)?{_MONTHS}\s+\d{{1,2}},?\s+\d{{4}}.{{0,30}}"
    rf"|\d{{1,2}}\s+{_MONTHS}\s+\d{{4}}.{{0,30}})$",
    re.I,
)
# A photo caption ends with its credit in brackets.
_CAPTION = re.compile(r"\((?:photo|image|picture|credit|source)s?\b[^()]{0,80}\)$", re.I)
# "LONDON (Reuters) -", "(CNN)", "HAYWARD, Calif. (AP) —", "WASHINGTON —" before the story.
_DATELINE = re.compile(
    r"^(?:[A-Z][A-Za-z.' -]{1,40}(?:,\s*[A-Z][A-Za-z.]{1,12})?\s*)?"
    r"\((?:[A-Z][A-Za-z&. ]{1,20})\)\s*(?:[-—–:]+\s*)?"
    r"|^[A-Z][A-Z.' -]{2,30}(?:,\s*[A-Z][A-Za-z.]{1,12})?\s+[—–-]{1,2}\s+"
)
# Calls to action: generic verbs of newsletters and comment sections, any site.
_PROMPT = re.compile(
    r"\b(?:sign up|subscribe|newsletter|follow us|click here|read more|comments?|"
    r"share this|join the conversation|log ?in|register|download (?:our|the) app|"
    r"advertisement|sponsored|promotion|promo code|affiliate|cookies?)\b",
    re.I,
)

# Sentence ends inside a long line: an end mark, maybe a closing quote, then a capital.
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+(?=[\"“‘(]?[A-Z0-9])")
_LONG_LINE_WORDS = 40
# An author "hover card" glued before the text: "Jane DoeJane Ann Doe" (the name, then
# the same first name again with no space, then the full name).
_HOVER_CARD = re.compile(
    r"^(?P<first>[A-Z][a-z'’-]+)(?: [A-Z][a-z.'’-]*){0,2} (?P<last>[A-Z][a-z'’-]+)"
    r"(?P=first)(?: [A-Z][a-z.'’-]*){0,2} (?P=last)(?:\s+|$)"
)
# A photo caption with its credit before the text on the same line.
_LEADING_CAPTION = re.compile(
    r"^[^()]{0,200}\((?:photo|image|picture|credit|source)s?\b[^()]{0,80}\)\s+(?=\S)", re.I
)


# A call to action that opens a short block, in the words newsletters and paywalls use.
_CALL_TO_ACTION = re.compile(
    r"^\W*(?:sign up|subscribe|register|log ?in|follow us|click here|tap here|read more|"
    r"read on|read the (?:full|whole|rest)|continue reading|keep reading|share (?:this|on|via)|"
    r"join (?:the|our|us)|download (?:our|the) app|get (?:the|our) newsletter|"
    r"already (?:a )?subscriber|become a (?:member|subscriber))\b",
    re.I,
)
# A teaser link: a few words closed by an ellipsis or an arrow ("Continue reading…",
# "Read more »", "Weiterlesen →", "Lire la suite...").
_TEASER = re.compile(r"^\W*\w[\w'’ -]{0,40}?\s*(?:…|\.{3}|»|›|→|>>|\[…\])\W*$")
# A time of day, a time zone, a date part: what a live blog's timestamps are made of.
_TIME_TOKEN = re.compile(
    r"^\W*(?:\d{1,2}[:.h]\d{2}(?:[ap]\.?m\.?)?|\d{1,2}[ap]\.?m\.?|[ap]\.?m\.?|"
    r"gmt|utc|bst|cet|cest|est|edt|pst|pdt|aest|ist|jst|updated|"
    rf"{_MONTHS}|\d{{1,4}}(?:st|nd|rd|th)?)\W*$",
    re.I,
)


def is_furniture(block: Block, title: str = "") -> bool:
    """True for a block of a feed's body that is not the article's text: links around
    a few words (navigation, "submitted by … [link] [comments]", share rows), a teaser
    link ("Continue reading…"), a call to action or paywall line, a run of timestamps,
    a byline, credit or caption, the headline again, or no words at all."""
    text = block.text
    words = text.split()
    if not any(c.isalnum() for c in text):
        return True
    if block.link_share >= 0.5 and len(words) <= 30:
        return True
    if block.link_share >= 0.3 and len(words) <= 8 and not _TERMINAL.search(text):
        return True  # "submitted by /u/someone", "Photos: Agency": a label around a link
    if len(words) <= 6 and _TEASER.match(text):
        return True
    if len(words) <= 25 and _CALL_TO_ACTION.match(text):
        return True
    if len(words) <= 12 and _PROMPT.search(text) and not _TERMINAL.search(text):
        return True
    if sum(1 for w in words if _TIME_TOKEN.match(w)) >= max(2, 0.4 * len(words)):
        return True
    if title and _repeats_title(text, title):
        return True
    if len(words) <= 15 and (_BYLINE.match(text) or _TIMESTAMP.match(text) or _CREDIT.match(text)):
        return True
    return bool(_CAPTION.search(text)) and len(words) <= 60


def is_full_page(html: str) -> bool:
    """True for a whole web page (navigation and all), not an article fragment."""
    return _FULL_PAGE.search(html[:50_000]) is not None


def extract_main_text(html: str) -> str:
    """The main text of a full page as lines, or '' when the extractor finds none."""
    try:
        import trafilatura

        text = trafilatura.extract(
            html[:MAX_PAGE_CHARS],
            include_comments=False,
            include_tables=False,
            include_images=False,
            favor_precision=True,
            deduplicate=True,
        )
    except Exception as e:  # a broken page must never stop the edition
        log.info("main-text extraction failed (%s); falling back to clean-up", e)
        return ""
    return text or ""


def clean_lines(lines: list[str], title: str = "", *, wrapped: bool = False) -> list[str]:
    """Paragraphs of article prose from lines of text, boilerplate left out.

    ``wrapped`` text (a plain-text body) may break a paragraph over several lines: a
    line without an end mark continues on the next when that starts in lower case or
    the line is long. Otherwise every line is a paragraph, and one without an end mark
    is a heading, a label or a credit. The
    first paragraph loses its dateline; a line repeating the headline is dropped.
    """
    kept = [_HOVER_CARD.sub("", _LIST_MARKER.sub("", line.strip())) for line in lines]
    # Hard-wrapped prose fills most of the width; a heading or a label does not.
    width = sorted(len(x) for x in kept)[int(len(kept) * 0.9)] if kept else 0
    paragraphs: list[str] = []
    current: list[str] = []
    for i, line in enumerate(kept):
        following = next((x for x in kept[i + 1 :] if x), "")
        # Only wrapped text continues a paragraph on the next line; HTML blocks and the
        # extractor's lines are paragraphs of their own ("by Jeff Foust" included).
        joins = (
            wrapped
            and bool(following)
            and not _TERMINAL.search(line)
            and (following[:1].islower() or len(line) >= 0.75 * width)
        )
        if not current and not joins and _is_long(line):
            line = prose_sentences(line, title)  # judged sentence by sentence, never whole
        elif not current and not joins and is_boilerplate(line, title):
            line = ""
        if not line:
            if current:
                paragraphs.append(" ".join(current))
                current = []
            continue
        current.append(line)
        if not joins:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    if paragraphs:
        paragraphs[0] = _DATELINE.sub("", paragraphs[0], count=1).strip() or paragraphs[0]
    return [p for p in paragraphs if p]


def _is_long(line: str) -> bool:
    """Several sentences' worth of words: a paragraph or a whole article on one line,
    never a label, heading or credit (those are a few words)."""
    return len(line.split()) > _LONG_LINE_WORDS and _SENTENCE_END.search(line) is not None


def prose_sentences(line: str, title: str = "") -> str:
    """A line of several sentences without the ones that are boilerplate.

    A whole article on one line (CMS exports, feed descriptions) is never dropped for a
    missing end mark or for one call to action inside it: each sentence is judged alone,
    and the last may lack its full stop.
    """
    sentences = _SENTENCE_END.split(_LEADING_CAPTION.sub("", line))
    kept = [
        s
        for i, s in enumerate(sentences)
        if not _is_boilerplate_sentence(s, title, last=i == len(sentences) - 1)
    ]
    return " ".join(kept)


def _is_boilerplate_sentence(sentence: str, title: str, *, last: bool) -> bool:
    if not _TERMINAL.search(sentence) and not last:
        return False  # split inside an abbreviation or a quote: keep it with its prose
    words = len(sentence.split())
    if last and not _TERMINAL.search(sentence) and words >= 8:
        return bool(_PROMPT.search(sentence) and words <= 25)  # a cut-off last sentence
    return is_boilerplate(sentence, title)


def is_boilerplate(line: str, title: str = "") -> bool:
    """True for a line that is navigation, a label, a credit or a prompt, not prose."""
    words = line.split()
    if title and _repeats_title(line, title):
        return True
    if _BYLINE.match(line) or _TIMESTAMP.match(line) or _CREDIT.match(line):
        return len(words) <= 15
    if _BREADCRUMB.search(line) and not _TERMINAL.search(line) and len(words) <= 12:
        return True
    if _PROMPT.search(line) and len(words) <= 25:
        return True
    if _CAPTION.search(line) and len(words) <= 60:
        return True
    # Unpunctuated on its own: a menu item, a label, a heading, a sponsor line.
    return not _TERMINAL.search(line)


def _repeats_title(line: str, title: str) -> bool:
    folded, headline = fold_words(line), fold_words(title)
    # og:title often carries the site's name after the headline.
    return folded == headline or (len(folded.split()) >= 4 and headline.startswith(folded))


def fold_words(text: str) -> str:
    """Lower-case words separated by single spaces, for comparing headlines."""
    return re.sub(r"\W+", " ", text.lower()).strip()
