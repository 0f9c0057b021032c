"""The plain-text part's layout: lines wrapped by display width, in any script.

Jinja's ``wordwrap`` counts characters and breaks only at spaces: a Japanese or
Chinese paragraph (no spaces, each character two columns wide) is never wrapped, and a
line of 72 of them is 144 columns. Here East Asian wide characters count two columns
and a line may break between any two of them, except before closing punctuation or
after an opening bracket (the basic kinsoku rule); a word longer than a line (a URL)
stands alone, unbroken.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# Never at the start of a line: closing punctuation, small kana, the prolonged sound mark.
_NO_LINE_START = set(
    "、。，．・：；？！ー）」』】〕〉》〙〗〟’”｝〛…‥々ゝゞヽヾ"
    "ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶ,.!?:;)]}%"
)
# Never at the end of a line: opening brackets and quotes.
_NO_LINE_END = set("（「『【〔〈《〘〖〝‘“｛〚([{")


def char_width(char: str) -> int:
    """Columns one character takes in a monospace terminal: 2 for East Asian wide and
    full-width characters, 0 for combining marks and invisible format characters (the
    bidi isolates and marks, joiners), else 1."""
    if unicodedata.combining(char) or unicodedata.category(char) == "Cf":
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Columns ``text`` takes (see `char_width`)."""
    return sum(char_width(c) for c in text)


@dataclass
class _Token:
    text: str
    space_before: bool
    wide: bool = False  # a run of wide characters: may break after each one


def _tokens(line: str) -> list[_Token]:
    tokens: list[_Token] = []
    space = False
    glue_next = False  # the last token ended with an opening bracket
    for char in line:
        if char.isspace():
            space, glue_next = True, False
            continue
        wide = char_width(char) == 2
        last = tokens[-1] if tokens else None
        joins = (
            last is not None
            and not space
            and (
                glue_next
                or char in _NO_LINE_START
                or (not wide and not last.wide)  # the next letter of a word
            )
        )
        if joins and last is not None:
            last.text += char
            last.wide = last.wide and wide
        else:
            tokens.append(_Token(char, space, wide))
        glue_next = char in _NO_LINE_END
        space = False
    return tokens


def wrap(text: str, width: int = 72, indent: str = "") -> str:
    """``text`` in lines of at most ``width`` columns; lines after the first begin with
    ``indent`` (not counted). Line breaks already in ``text`` are kept."""
    out: list[str] = []
    for paragraph in str(text).split("\n"):
        out.extend(_wrap_line(paragraph, width))
    return ("\n" + indent).join(out)


def _wrap_line(line: str, width: int) -> list[str]:
    lines: list[str] = []
    current, used = "", 0
    for token in _tokens(line):
        gap = " " if token.space_before and current else ""
        size = display_width(token.text)
        if current and used + len(gap) + size > width:
            lines.append(current)
            current, used = token.text, size
            continue
        current += gap + token.text
        used += len(gap) + size
    lines.append(current)
    return lines
