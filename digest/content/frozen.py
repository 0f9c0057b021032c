"""The frozen form of an edition: Edition <-> the JSON payload stored when it is frozen.

Its own module so that the archive (which reads frozen editions) and the edition
builder (which freezes them) need not import each other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from digest.config import Config
from digest.content.weeks import week_window
from digest.models import Edition, EditionArticle, Section, Sponsor


def edition_payload(edition: Edition) -> dict[str, Any]:
    """The edition as JSON-ready data, for freezing."""
    return {
        "week": edition.week.label,
        "sections": [
            {
                "topic": s.topic,
                "slug": s.slug,
                "sponsor": {"name": s.sponsor.name, "url": s.sponsor.url} if s.sponsor else None,
                "articles": [_article(a) for a in s.articles],
            }
            for s in edition.sections
        ],
        "candidates": [_article(a) for a in edition.candidates],
        "note_html": edition.note_html,
        "note_text": edition.note_text,
    }


def _article(a: EditionArticle) -> dict[str, Any]:
    return {
        "url": a.url,
        "title": a.title,
        "excerpt": a.excerpt,
        "author": a.author,
        "published_at": a.published_at.isoformat(),
        "rank": a.rank,
        "image_url": a.image_url,
        "topics": list(a.topics),
        "image_alt": a.image_alt,
        "image_width": a.image_width,
        "image_height": a.image_height,
    }


def _from_dict(a: dict[str, Any]) -> EditionArticle:
    return EditionArticle(
        a["url"],
        a["title"],
        a["excerpt"],
        a["author"],
        datetime.fromisoformat(a["published_at"]),
        a["image_url"],
        a.get("rank", 0),
        tuple(a.get("topics", ())),
        a.get("image_alt", ""),
        a.get("image_width", 0),
        a.get("image_height", 0),
    )


def edition_from_payload(config: Config, payload: dict[str, Any]) -> Edition:
    """Rebuild a frozen edition from its stored payload."""
    week = week_window(payload["week"], config.tz)
    sections = tuple(
        Section(
            s["topic"],
            s["slug"],
            tuple(_from_dict(a) for a in s["articles"]),
            Sponsor(**s["sponsor"]) if s["sponsor"] else None,
        )
        for s in payload["sections"]
    )
    candidates = tuple(_from_dict(a) for a in payload.get("candidates", ()))
    return Edition(
        week=week,
        sections=sections,
        candidates=candidates,
        note_html=payload.get("note_html", ""),
        note_text=payload.get("note_text", ""),
    )
