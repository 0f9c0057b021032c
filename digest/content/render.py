"""Rendering: Jinja templates to HTML and text, CSS inlined once per variant.

A variant is the body shared by every subscriber with the same topic choice. What
differs per subscriber (address, greeting, signed token) is left as placeholders that
``digest.delivery.message`` fills in by substitution, so premailer runs once per variant.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from premailer import Premailer

from digest.config import Config
from digest.content.gather import SectionLimits, place_in_sections, sections_for_topics
from digest.errors import RenderError
from digest.models import Edition, EditionArticle, RenderedVariant, Section, slot_text
from digest.resources import packaged_templates

HTML_TEMPLATE = "digest.html.j2"
TEXT_TEMPLATE = "digest.txt.j2"


def templates_dir(config: Config) -> Path:
    """The configured templates folder when it holds the templates, else the packaged one."""
    configured = config.resolve(config.templates.path)
    if (configured / HTML_TEMPLATE).is_file():
        return configured
    return packaged_templates()


@lru_cache(maxsize=8)
def make_environment(folder: Path) -> jinja2.Environment:
    """A Jinja environment over ``folder``: autoescape for HTML, StrictUndefined."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["date"] = _format_date
    return env


def _format_date(moment: datetime, fmt: str = "%b %-d, %Y") -> str:
    return moment.strftime(fmt)


def variant_sections(config: Config, edition: Edition, key: str) -> tuple[Section, ...]:
    """The sections a topic choice gets: the all-topics copy for an empty choice, else
    the best articles of the chosen topics within the limits, picked from every article
    of the week (so a reader of one topic is not left with what the all-topics copy
    had room for)."""
    if not key:
        return edition.sections
    chosen = set(key.split(","))
    if not edition.candidates:  # frozen before candidates were kept
        return tuple(s for s in edition.sections if s.slug in chosen)
    return select_sections(config, edition.candidates, chosen)


def select_sections(
    config: Config, ranked: Sequence[EditionArticle], chosen: set[str] | None = None
) -> tuple[Section, ...]:
    """Sections of ranked articles within `[digest]` limits: all topics, or ``chosen``."""
    limits = SectionLimits(
        config.digest.max_articles,
        config.digest.max_per_section,
        config.sponsors,
        config.digest.section_order,
        config.digest.other_section,
    )
    gathered = (
        place_in_sections(ranked, limits)
        if chosen is None
        else sections_for_topics(ranked, chosen, limits)
    )
    return tuple(Section(g.topic, g.slug, g.articles, g.sponsor) for g in gathered)


def render_variant(
    config: Config, edition: Edition, key: str, left_out: int = 0
) -> RenderedVariant:
    """Render and inline one variant of ``edition`` for the topic choice ``key``.

    ``left_out`` articles did not fit the size budget: the email points to the web
    version for them.
    """
    sections = variant_sections(config, edition, key)
    marker = secrets.token_hex(8)  # per render: content can never name a reader's slot
    context = _context(config, edition, sections, key, marker)
    context.update(left_out=left_out)
    env = make_environment(templates_dir(config))
    html = _render(env, HTML_TEMPLATE, context)
    text = _render(env, TEXT_TEMPLATE, context)
    count = sum(len(s.articles) for s in sections)
    html = inline_css(html, config.base_url)
    return RenderedVariant(key, context["subject"], html, text, count, slots=marker)


def _render(env: jinja2.Environment, name: str, context: Mapping[str, Any]) -> str:
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateNotFound as e:
        raise RenderError(
            f"Template {e.name} not found in {env.loader.searchpath}; "  # type: ignore[union-attr]
            "check [templates] path in the config."
        ) from e
    except jinja2.TemplateError as e:
        where = f"{getattr(e, 'filename', None) or name}:{getattr(e, 'lineno', '?')}"
        raise RenderError(f"Template error at {where}: {e}") from e


def _context(
    config: Config, edition: Edition, sections: tuple[Section, ...], key: str, marker: str = ""
) -> dict[str, Any]:
    base = config.base_url
    token = slot_text(marker, "token")
    articles = [a for s in sections for a in s.articles]
    lead = min(articles, key=lambda a: a.rank) if len(articles) > 1 else None
    rest = _without_lead(sections, lead)
    subject = config.digest.subject.format(
        name=config.newsletter.name,
        week_label=week_label(edition),
        week=edition.week.label,
        count=len(articles),
        top_title=articles[0].title if articles else "",
    )
    return {
        "newsletter": config.newsletter,
        "edition": edition,
        "week_label": week_label(edition),
        "subject": subject,
        "preheader": _preheader(articles),
        "lead": lead,
        "sections": rest,
        "note_html": edition.note_html,
        "note_text": edition.note_text,
        "chosen_topics": [s.topic for s in sections] if key else [],
        "greeting": slot_text(marker, "greeting"),
        "email": slot_text(marker, "email"),
        "archive": False,
        "left_out": 0,
        "links": {
            "home": base + "/",
            "view_in_browser": f"{base}/archive/{edition.week.label}.html",
            "unsubscribe": f"{base}/unsubscribe/{token}",
            "preferences": f"{base}/preferences/{token}",
        },
    }


def _without_lead(
    sections: tuple[Section, ...], lead: EditionArticle | None
) -> tuple[Section, ...]:
    """The sections below the lead story: the lead is not shown twice."""
    if lead is None:
        return sections
    kept = (
        replace(s, articles=tuple(a for a in s.articles if a.url != lead.url)) for s in sections
    )
    return tuple(s for s in kept if s.articles)


def render_web_version(config: Config, edition: Edition) -> str:
    """The edition as a public web page: every topic, no subscriber's links or address."""
    context = _context(config, edition, edition.sections, "", secrets.token_hex(8))
    context.update(archive=True, greeting="Hello,", email="")
    env = make_environment(templates_dir(config))
    return inline_css(_render(env, HTML_TEMPLATE, context), config.base_url)


def week_label(edition: Edition) -> str:
    """A reader's name for the week: 'November 16–22, 2026'."""
    first = edition.week.start.date()
    last = first + timedelta(days=6)
    if first.month == last.month:
        return f"{first:%B} {first.day}–{last.day}, {last.year}"
    if first.year == last.year:
        return f"{first:%B} {first.day} – {last:%B} {last.day}, {last.year}"
    return f"{first:%B} {first.day}, {first.year} – {last:%B} {last.day}, {last.year}"


def _preheader(articles: list[Any]) -> str:
    if not articles:
        return ""
    rest = len(articles) - 1
    more = f" and {rest} more {'story' if rest == 1 else 'stories'}" if rest else ""
    return f"This week: {articles[0].title}{more}."


def inline_css(html: str, base_url: str) -> str:
    """Inline the stylesheet into style attributes, keeping <style> for @media rules.

    premailer (last released 2021) stays behind this one function so it can be swapped.
    """
    try:
        return str(
            Premailer(
                html,
                base_url=base_url + "/",
                strip_important=False,
                keep_style_tags=True,
                disable_leftover_css=True,
                remove_classes=False,
                allow_network=False,
                disable_validation=True,
                preserve_internal_links=True,  # "#dns" stays in-page, not <base_url>/#dns
                # An img's width and height attributes stay the numbers the template
                # wrote: Outlook sizes images from them, and they keep the box when
                # images are blocked. (premailer would copy "100%" and "auto" there.)
                disable_basic_attributes=["width", "height"],
                cssutils_logging_level=logging.CRITICAL,
            ).transform(pretty_print=False)
        )
    except Exception as e:  # premailer raises bare lxml/cssutils errors
        raise RenderError(f"Inlining CSS failed: {e}. Check the stylesheet's syntax.") from e


NOTICE_TEMPLATES = ("notice.html.j2", "notice.txt.j2")


def render_notice(config: Config, context: Mapping[str, Any]) -> tuple[str, str]:
    """(HTML, text) of a one-off notice (sign-up confirmation, welcome): the configured
    templates folder's notice templates when it has them, else the packaged ones."""
    folder = config.resolve(config.templates.path)
    if not (folder / NOTICE_TEMPLATES[0]).is_file():
        folder = packaged_templates()
    env = make_environment(folder)
    values = {"newsletter": config.newsletter, **context}
    return tuple(_render(env, name, values) for name in NOTICE_TEMPLATES)  # type: ignore[return-value]
