"""Excerpts: the article's own opening words, clean and whole, within a length budget.

Pure functions only: text in, text out, limits as arguments.
"""

from __future__ import annotations

import codecs
import logging
import re
import unicodedata
from dataclasses import dataclass

from digest.content.blocks import Block, html_blocks, html_to_text, tidy, tidy_line
from digest.content.boilerplate import (
    MAX_PAGE_CHARS,
    clean_lines,
    extract_main_text,
    fold_words,
    is_full_page,
    is_furniture,
)
from digest.errors import IngestError

log = logging.getLogger(__name__)

ELLIPSIS = "…"
# Words that end with a period without ending a sentence.
_ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "sr",
    "jr",
    "st",
    "mt",
    "ft",
    "gen",
    "gov",
    "sen",
    "rep",
    "rev",
    "col",
    "capt",
    "lt",
    "sgt",
    "supt",
    "no",
    "nos",
    "vs",
    "v",
    "etc",
    "e.g",
    "i.e",
    "cf",
    "al",
    "approx",
    "inc",
    "ltd",
    "co",
    "corp",
    "dept",
    "est",
    "fig",
    "vol",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "u.s",
    "u.n",
    "u.k",
    "e.u",
    "a.m",
    "p.m",
    "ph.d",
    "mass",
    "calif",
    "wash",
}
_OPENERS = "\"'“‘([{«"
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*\s+")
# A paragraph's last sentence is closed: an end mark, maybe a closing quote or bracket.
_ENDS_SENTENCE = re.compile(r"[.!?…。！？][\"'”’)\]」』]*$")
_LOOKS_HTML = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(\s[^<>]*)?/?>|&(#\d+|[a-z]+);", re.I)


def looks_like_html(body: str) -> bool:
    """True when the body carries HTML markup rather than plain text."""
    return _LOOKS_HTML.search(body[:20000]) is not None


def plain_text(body: str) -> str:
    """The body as clean paragraphs of text, whether it came as HTML or text."""
    return html_to_text(body) if looks_like_html(body) else tidy(body)


def split_sentences(paragraph: str) -> list[str]:
    """Split one paragraph into sentences, keeping abbreviations, initials and decimals."""
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(paragraph):
        end = match.end()
        if not _is_sentence_end(paragraph, match.start(), end):
            continue
        sentences.append(paragraph[start:end].strip())
        start = end
    rest = paragraph[start:].strip()
    if rest:
        sentences.append(rest)
    return sentences


def _is_sentence_end(text: str, dot: int, after: int) -> bool:
    following = text[after : after + 2]
    if not following or not (
        following[0].isupper() or following[0] in _OPENERS or following[0].isdigit()
    ):
        return False
    if text[dot] != ".":
        return True
    word = re.search(r"([\w.]+)$", text[:dot])
    if not word:
        return True
    token = word.group(1).lower().rstrip(".")
    if token in _ABBREVIATIONS:
        return False
    # Initials ("J. R. Smith") and dotted acronyms ("U.S.", "D.C.") inside a sentence.
    return not (len(token) == 1 and token.isalpha()) and not re.fullmatch(r"(\w\.)+\w", token)


@dataclass(frozen=True)
class Excerpt:
    """An excerpt, the path that produced it, and why it is empty when it is."""

    text: str
    method: str  # editor, fragment, trafilatura, cleanup, text
    reason: str = ""
    words: int = 0  # the article's own prose, in words (see `count_words`)


def count_words(text: str) -> int:
    """Words of prose: spaced words, and in scripts written without spaces (Chinese,
    Japanese) one per two characters."""
    count = 0
    for token in text.split():
        if not any(c.isalnum() for c in token):
            continue
        wide = sum(1 for c in token if unicodedata.east_asian_width(c) in ("W", "F"))
        count += max(1, wide // 2 + (1 if len(token) > wide else 0)) if wide else 1
    return count


def summarize(body: str, max_chars: int, *, editor_excerpt: str = "", title: str = "") -> Excerpt:
    """The excerpt of an article: the editor's, else its own opening sentences."""
    blocks, method = article_blocks(body, title)
    words = sum(count_words(b.text) for b in blocks)
    if editor_excerpt.strip():
        text = fit_text(tidy(editor_excerpt).replace("\n\n", " "), max_chars)
        return Excerpt(text, "editor", words=words)
    text = fit_blocks(blocks, max_chars, title)
    if not text:
        reason = "empty body" if not body.strip() else "no article text found in the body"
        log.info("no excerpt (%s, %s)", reason, method)
        return Excerpt("", method, reason, words)
    return Excerpt(text, method, words=words)


def make_excerpt(body: str, max_chars: int, *, editor_excerpt: str = "", title: str = "") -> str:
    """The excerpt text alone (see ``summarize``)."""
    return summarize(body, max_chars, editor_excerpt=editor_excerpt, title=title).text


def article_blocks(body: str, title: str = "") -> tuple[list[Block], str]:
    """The article's blocks of text and how they were found.

    Article fragments (what a CMS stores, what a feed carries) keep their paragraphs,
    headings and list items, less the feed's furniture (`boilerplate.is_furniture`);
    full pages go through the main-text extractor, falling back to our own clean-up;
    plain text is cleaned of boilerplate lines.
    """
    body = body[:MAX_PAGE_CHARS]
    if not looks_like_html(body):
        return _paragraphs(clean_lines(_tidy_lines(body), title, wrapped=True)), "text"
    if not is_full_page(body):
        return [b for b in html_blocks(body) if not is_furniture(b, title)], "fragment"
    main = extract_main_text(body)
    if main.strip():
        return _paragraphs(clean_lines(_tidy_lines(main), title)), "trafilatura"
    kept = [b.text for b in html_blocks(body) if not is_furniture(b, title)]
    return _paragraphs(clean_lines(kept, title)), "cleanup"


def article_paragraphs(body: str, title: str = "") -> tuple[list[str], str]:
    """The article's paragraphs of text and how they were found (see `article_blocks`)."""
    blocks, method = article_blocks(body, title)
    return [b.text for b in blocks], method


def _paragraphs(texts: list[str]) -> list[Block]:
    return [Block(t) for t in texts if t]


# A block this short without an end mark, followed by more, is a label or a heading.
_LABEL_WORDS = 6


def fit_blocks(blocks: list[Block], max_chars: int, title: str = "") -> str:
    """The opening prose as whole sentences within ``max_chars``.

    Paragraph and list boundaries end sentences: a paragraph without an end mark (a
    standfirst, a line before a list) closes the excerpt rather than run into the
    next; headings and list items are never taken into prose that came before them,
    and a lead-in ending in ":" is dropped with its list (the prose after it may open
    the excerpt). A lead-in to a quotation (a
    linked-list blog's "Jane Doe, writing for The Atlantic:") is no lede: the quoted
    paragraph that follows is taken with it, or alone when both do not fit. When no
    whole sentence fits, the first is cut after a word with an ellipsis; a cut the feed
    made ("... the bike la...") ends on a whole word with "…". Only list items and
    nothing else: the first items, joined.
    """
    taken: list[str] = []
    length = 0
    first = ""
    prose = [b for b in blocks if b.kind == "p"]
    last_prose = prose[-1] if prose else None
    lead_in = False  # the block before ended in ":" and this one is what it introduces
    ended_body = False  # the excerpt ends where the article's text ends
    for i, block in enumerate(blocks):
        if block.kind != "p" or not any(c.isalnum() for c in block.text):
            if taken and block.kind != "p":
                break
            continue
        closed = _ENDS_SENTENCE.search(block.text) is not None
        introduces = _LEAD_IN.search(block.text) is not None and _next_is_prose(blocks, i)
        if taken and not closed and not lead_in and not introduces:
            break  # a heading, a label or a line without its full stop: the excerpt ends
        if not taken and not introduces and _LEAD_IN.search(block.text):
            continue  # the lead-in of a list: it goes with its list, the prose after stays
        sentences = split_sentences(block.text.lstrip("—–-:|·• "))  # after a run-in head
        if not taken and title and sentences and _repeats(sentences[0], title):
            sentences = sentences[1:]
        label = (
            not closed
            and not introduces
            and len(block.text.split()) < _LABEL_WORDS
            and i + 1 < len(blocks)
        )
        if not sentences or label:
            continue
        if not introduces:
            first = first or sentences[0]
        full = False
        for n, sentence in enumerate(sentences):
            extra = len(sentence) + (1 if taken else 0)
            if length + extra > max_chars:
                full = True
                break
            taken.append(sentence)
            length += extra
            ended_body = block is last_prose and n == len(sentences) - 1
        lead_in = introduces
        if full or (not closed and not introduces):
            break
    while taken and _LEAD_IN.search(taken[-1]):
        taken.pop()  # a lead-in without what it leads to
    if taken:
        return close_feed_cut(" ".join(taken), whole=not ended_body)
    if first:
        return close_feed_cut(fit_text(first, max_chars), whole=True)
    if not prose or all(_LEAD_IN.search(b.text) for b in prose):
        items = [b.text for b in blocks if b.kind == "item"]
        return fit_text("; ".join(items), max_chars) if items else ""
    return ""


# A line that introduces what follows: it ends in a colon (maybe inside a quote).
_LEAD_IN = re.compile(r"[:：][\"'”’)\]]*$")
# What a feed puts where it cut an entry's text: "...", "…", "[...]", "[…]", "(...)".
_FEED_CUT = re.compile(r"\s*(?:\[\s*(?:\.{3}|…)\s*\]|\(\s*(?:\.{3}|…)\s*\)|\.{3,}|…)$")


def _next_is_prose(blocks: list[Block], i: int) -> bool:
    """True when the block after ``i`` that has letters is a paragraph."""
    for block in blocks[i + 1 :]:
        if any(c.isalnum() for c in block.text):
            return block.kind == "p"
    return False


def close_feed_cut(text: str, *, whole: bool) -> str:
    """``text`` whose end a feed cut ("... the bike la...", "heating throughou [...]")
    ending on a whole word with one proper ellipsis. At the end of the article's text
    (not ``whole``) the word before the mark may be half a word, spaced or not (feeds
    cut at a length): it goes, unless a sentence ended there (then no ellipsis)."""
    found = _FEED_CUT.search(text)
    if not found:
        return text
    head = text[: found.start()].rstrip()
    if not whole:
        if _ENDS_SENTENCE.search(head):
            return head
        space = head.rfind(" ")
        if space > 0:
            head = head[:space]
    head = _drop_dangling(head)
    return head + ELLIPSIS if head else ""


def _tidy_lines(text: str) -> list[str]:
    return [tidy_line(line) for line in _tidy_keep_lines(text).split("\n")]


def _tidy_keep_lines(text: str) -> str:
    text = unicodedata.normalize("NFC", text).replace("\u00a0", " ")
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]", "", text).replace("\r", "")


def fit_text(text: str, max_chars: int) -> str:
    """``text`` if it fits, else cut after a whole word, closed off with '…'."""
    text = text.strip()
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - len(ELLIPSIS) + 1]
    space = cut.rfind(" ")
    cut = cut[:space] if space > 0 else cut[: max_chars - len(ELLIPSIS)]
    cut = _drop_dangling(cut)
    return (cut + ELLIPSIS) if cut else ""


def _drop_dangling(text: str) -> str:
    """Trim trailing punctuation and any opener (quote, bracket) left unclosed."""
    text = text.rstrip(" ,;:-–—" + _OPENERS)
    for opener, closer in (("(", ")"), ("[", "]"), ("“", "”"), ("«", "»")):
        if text.count(opener) > text.count(closer):
            text = text[: text.rfind(opener)].rstrip(" ,;:-–—")
    if text.count('"') % 2:
        text = text[: text.rfind('"')].rstrip(" ,;:-–—")
    return text


def _repeats(sentence: str, title: str) -> bool:
    return fold_words(sentence) == fold_words(title)


_TITLE_TAG = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_H1_TAG = re.compile(r"<h1[^>]*>(.*?)</h1>", re.I | re.S)
_OG_TITLE = re.compile(
    r"<meta[^>]+property=[\"']og:title[\"'][^>]+content=[\"']([^\"']*)[\"']", re.I
)
_CHARSET = re.compile(rb"<meta[^>]+charset=[\"']?([A-Za-z0-9_-]+)", re.I)


def decode_bytes(data: bytes) -> str:
    """Text from a file's bytes: UTF-8, else the page's declared charset, else Latin-1."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    declared = declared_charset(data[:4096])
    if declared:
        return data.decode(declared, errors="replace")
    return data.decode("latin-1")


def declared_charset(head: bytes) -> str:
    """The charset a file's first bytes declare, when Python knows it ("" else)."""
    declared = _CHARSET.search(head)
    if not declared:
        return ""
    try:
        return codecs.lookup(declared.group(1).decode("ascii")).name
    except (LookupError, UnicodeDecodeError):
        return ""


def looks_binary(data: bytes) -> bool:
    """True for bytes no text file holds: NUL bytes, or mostly control characters."""
    head = data[:8192]
    if b"\0" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 has NULs
        return True
    controls = sum(1 for b in head if b < 32 and b not in b"\t\n\r\f\x1b")
    return bool(head) and controls / len(head) > 0.1


def describe_file(data: bytes, max_chars: int) -> dict[str, str]:
    """Title, excerpt and method for an article file (HTML page, fragment or text).

    IngestError for a binary file (an image, a PDF, an archive): it has no text to cut.
    """
    if looks_binary(data):
        raise IngestError(
            "That file is not text or HTML (it holds binary data); give the article's "
            "HTML page or its text."
        )
    text = decode_bytes(data)
    if looks_like_html(text):
        title = _html_title(text)
        body = text
    else:
        lines = [line.strip() for line in _tidy_keep_lines(text).split("\n") if line.strip()]
        title = lines[0] if len(lines) > 1 and len(lines[0]) < 200 else ""
        body = "\n".join(lines[1:] if title else lines)
    excerpt = summarize(body, max_chars, title=title)
    result = {"title": title, "excerpt": excerpt.text, "method": excerpt.method}
    if excerpt.reason:
        result["reason"] = excerpt.reason
    return result


def _html_title(page: str) -> str:
    for pattern in (_OG_TITLE, _H1_TAG, _TITLE_TAG):
        found = pattern.search(page)
        if found:
            title = html_to_text(found.group(1)).replace("\n\n", " ")
            if title:
                return title
    return ""
