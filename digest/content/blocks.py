"""HTML to blocks of text: each paragraph, heading or list item with what kind it is
and how much of it is link text.

What a feed puts in an entry's body is an article fragment with furniture around it
("Continue reading…", "submitted by … [link] [comments]", share prompts). The kind
and the share of link text are what tell the two apart (see `boilerplate.is_furniture`)
without knowing any one site's words.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser

# Elements whose text is never article prose.
SKIP_TAGS = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "svg",
        "nav",
        "header",
        "footer",
        "aside",
        "form",
        "button",
        "select",
        "iframe",
        "object",
        "head",
        "title",
        "figcaption",
    }
)
BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "section",
        "article",
        "table",
        "tr",
        "td",
        "th",
        "pre",
        "hr",
        "figure",
        "dd",
        "dt",
    }
)
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BOLD = frozenset({"b", "strong"})
# A bold opening this short, without an end mark, is a run-in head, not prose.
_RUN_IN_WORDS = 8
_ENDS = re.compile(r"[.!?…。！？:;,][\"'”’)\]」』]*$")
_ITEMS = frozenset({"li", "dt", "dd"})


@dataclass(frozen=True)
class Block:
    """One paragraph, heading or list item of text."""

    text: str
    kind: str = "p"  # p, heading, item
    link_chars: int = 0  # characters of the text inside links

    @property
    def link_share(self) -> float:
        """The share of the block's characters that are link text, 0 to 1."""
        letters = len(self.text.replace(" ", ""))
        return min(1.0, self.link_chars / letters) if letters else 0.0


class _BlockReader(HTMLParser):
    """Visible text cut into blocks at block elements, each with its kind and link text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self._text: list[str] = []
        self._links = 0
        self._skip = 0
        self._in_link = 0
        self._open: list[str] = []  # heading and list-item elements we are inside
        self._bold = 0  # depth of b/strong
        self._run_in = False  # the block opened with bold text: maybe a run-in head

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIP_TAGS:
            self._skip += 1
        elif tag in BLOCK_TAGS:
            self._flush()
            if tag in _HEADINGS or tag in _ITEMS:
                self._open.append(tag)
        elif tag == "a":
            self._in_link += 1
        elif tag in _BOLD:
            self._run_in = self._run_in or (self._bold == 0 and not "".join(self._text).strip())
            self._bold += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag in BLOCK_TAGS:
            self._flush()
            if tag in self._open:
                del self._open[len(self._open) - 1 - self._open[::-1].index(tag)]
        elif tag == "a":
            self._in_link = max(0, self._in_link - 1)
        elif tag in _BOLD:
            self._bold = max(0, self._bold - 1)
            if self._bold == 0 and self._run_in:
                self._run_in = False
                head = tidy_line("".join(self._text))
                if head and len(head.split()) <= _RUN_IN_WORDS and not _ENDS.search(head):
                    self._flush("heading")  # "<p><b>Next steps</b> If you...": a run-in head

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in BLOCK_TAGS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self._text.append(data)
        if self._in_link:
            self._links += len(data.replace(" ", "").strip())

    def _flush(self, kind: str = "p") -> None:
        text = tidy_line("".join(self._text))
        self._run_in = False
        if text:
            if any(t in _HEADINGS for t in self._open):
                kind = "heading"
            elif any(t in _ITEMS for t in self._open):
                kind = "item"
            self.blocks.append(Block(text, kind, self._links))
        self._text, self._links = [], 0


def html_blocks(html: str) -> list[Block]:
    """The blocks of text in an HTML fragment or page, entities decoded."""
    reader = _BlockReader()
    try:
        reader.feed(html)
        reader.close()
    except (AssertionError, ValueError):  # html.parser gives up on some broken markup
        pass
    reader._flush()
    return reader.blocks


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment or page: one paragraph per block, blank lines
    between them."""
    return "\n\n".join(b.text for b in html_blocks(html))


_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
_SPACES = re.compile(r"[ \t\r\f\v\n]+")


def tidy_line(text: str) -> str:
    """One line of clean text: NFC, no control characters, single spaces."""
    text = unicodedata.normalize("NFC", text).replace("\u00a0", " ")
    return _SPACES.sub(" ", _CONTROLS.sub("", text)).strip()


def tidy(text: str) -> str:
    """Clean paragraphs of text: each tidied, blank lines between them."""
    paragraphs = (tidy_line(p) for p in re.split(r"\n\s*\n", text))
    return "\n\n".join(p for p in paragraphs if p)
