"""The editor's note at the top of an edition: a small, safe Markdown subset
(paragraphs, links, emphasis, line breaks) rendered with markdown-it-py. Raw HTML is
shown as text, never passed through; links must be http(s) or mailto.
"""

from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token
from sqlite_utils import Database

from digest import store
from digest.errors import EditionError, IngestError

MAX_NOTE_CHARS = 4000  # a note, not an article
_SAFE_SCHEMES = ("http://", "https://", "mailto:")


def _parser() -> MarkdownIt:
    md = MarkdownIt("zero", {"html": False, "linkify": False, "typographer": False})
    md.enable(["emphasis", "link", "newline", "escape"])
    md.validateLink = _safe_link  # type: ignore[method-assign]
    return md


def _safe_link(url: str) -> bool:
    return url.strip().lower().startswith(_SAFE_SCHEMES)


_MD = _parser()


def render_note(markdown: str) -> tuple[str, str]:
    """(safe HTML, plain text wrapped at 72) of a note; ('', '') for an empty one."""
    if not markdown.strip():
        return "", ""
    tokens = _MD.parse(markdown)
    return _MD.renderer.render(tokens, _MD.options, {}).strip(), _plain(tokens)


def _plain(tokens: list[Token]) -> str:
    """The note as text: each paragraph wrapped at 72 columns, a link as 'words (URL)',
    URLs never broken."""
    paragraphs = []
    for token in tokens:
        if token.type != "inline" or not token.children:
            continue
        words: list[str] = []
        href = ""
        for child in token.children:
            if child.type in ("text", "code_inline"):
                words.append(child.content)
            elif child.type in ("softbreak", "hardbreak"):
                words.append(" ")
            elif child.type == "link_open":
                href = str(child.attrs.get("href", ""))
            elif child.type == "link_close" and href:
                words.append(f" ({href})")
                href = ""
        text = " ".join("".join(words).split())
        paragraphs.append(textwrap.fill(text, 72, break_long_words=False, break_on_hyphens=False))
    return "\n\n".join(paragraphs)


def set_week_note(
    db: Database, week: str, now: datetime, text: str | None = None, file: Path | None = None
) -> tuple[str, str]:
    """`digest note`: set the note of ``week`` from text or a file; return (HTML, text)
    as the edition will show it. IngestError for an unreadable or oversized note,
    EditionError once the week's edition is frozen (what was sent cannot change)."""
    _check_not_frozen(db, week)
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise IngestError(
                f"Cannot read the note from {file}: {e}. Give a UTF-8 text file."
            ) from e
    markdown = (text or "").strip()
    if not markdown:
        raise IngestError("The note is empty; to remove a note, use `digest note --clear`.")
    if len(markdown) > MAX_NOTE_CHARS:
        raise IngestError(
            f"The note is {len(markdown)} characters; keep it under {MAX_NOTE_CHARS}."
        )
    store.set_note(db, week, markdown, now)
    return render_note(markdown)


def clear_week_note(db: Database, week: str) -> bool:
    """`digest note --clear`: remove the note of ``week``; False when there was none."""
    _check_not_frozen(db, week)
    return store.clear_note(db, week)


def _check_not_frozen(db: Database, week: str) -> None:
    if store.get_edition(db, week) is not None:
        raise EditionError(
            f"The {week} edition is frozen (sending has started): its note can no longer "
            "change. Notes are for a coming edition: leave out --week for the next one, "
            "or name a later week with --week."
        )


def week_note(db: Database, week: str) -> tuple[str, str]:
    """(HTML, text) of the note of ``week``, or ('', '')."""
    return render_note(store.get_note(db, week))
