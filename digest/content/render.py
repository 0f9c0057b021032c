"""Rendering: Jinja templates to HTML and text, CSS inlined once per variant.

A variant is the body shared by every subscriber with the same topic choice. What
differs per subscriber (address, greeting, signed token) is left as placeholders that
``digest.mail.message`` fills in by substitution, so premailer runs once per variant.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import unicodedata
from collections.abc import Mapping
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from premailer import Premailer

from digest.config import Config
from digest.content.plaintext import wrap
from digest.errors import RenderError
from digest.language import Language, language
from digest.models import Copy, Edition, EditionArticle, RenderedVariant, slot_text
from digest.resources import packaged_templates

HTML_TEMPLATE = "digest.html.j2"
TEXT_TEMPLATE = "digest.txt.j2"


def templates_dir(config: Config) -> Path:
    """The configured templates folder when it holds the templates, else the packaged one."""
    configured = config.resolve(config.templates.path)
    if (configured / HTML_TEMPLATE).is_file():
        return configured
    return packaged_templates()


@lru_cache(maxsize=16)
def make_environment(folder: Path, tag: str = "en") -> jinja2.Environment:
    """A Jinja environment over ``folder`` in the language ``tag``: autoescape for
    HTML, StrictUndefined, the templates' words through gettext (``{% trans %}``,
    ``_()``), dates in the language, and ``wrap`` for the plain-text part."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    words = language(tag)
    env.install_gettext_translations(words.translations, newstyle=True)  # type: ignore[attr-defined]
    env.filters["date"] = words.date
    env.filters["wrap"] = wrap
    env.filters["bidi"] = lambda value: isolated_html(value, words.direction)
    env.filters["isolate"] = lambda value: isolated_text(str(value), words.direction)
    return env


# A character's bidi class: strong left-to-right, strong right-to-left.
_STRONG = {"L": "ltr", "R": "rtl", "AL": "rtl"}
FSI, PDI = "\u2068", "\u2069"  # first strong isolate ... pop directional isolate


def text_direction(text: str, default: str) -> str:
    """The direction of ``text`` by its first strong character (what `dir="auto"`
    finds), else ``default``."""
    for char in text:
        found = _STRONG.get(unicodedata.bidirectional(char))
        if found:
            return found
    return default


def isolated_html(value: object, direction: str) -> Markup:
    """``value`` (a date, a name, a week, put into a sentence; text, or markup such as
    a link) isolated from the text around it: a span with its own direction, which
    HTML isolates, so "02/07/2021" or a Latin name inside Arabic text keeps its order."""
    inner = value if isinstance(value, Markup) else Markup.escape(str(value))
    own = text_direction(inner.striptags(), direction)
    return Markup('<span dir="{}">{}</span>').format(own, inner)


def isolated_text(value: str, direction: str) -> str:
    """``value`` between Unicode's first-strong isolate and its end (U+2068, U+2069)
    in a right-to-left edition's plain text; as it is in a left-to-right one."""
    return f"{FSI}{value}{PDI}" if direction == "rtl" and value else value


def render_variant(config: Config, edition: Edition, copy: Copy) -> RenderedVariant:
    """Render and inline one copy of ``edition`` (see `copies.choose_copy`).

    The week's articles the copy does not show (its limits, the size budget) are
    counted near the top and at the end, with a link to the web version, which has
    them all.
    """
    marker = secrets.token_hex(8)  # per render: content can never name a reader's slot
    context = _context(config, edition, copy, marker)
    env = make_environment(templates_dir(config), config.newsletter.language)
    html = _render(env, HTML_TEMPLATE, context)
    text = _render(env, TEXT_TEMPLATE, context)
    html = inline_css(html, config.base_url)
    return RenderedVariant(
        copy.key,
        context["subject"],
        html,
        text,
        len(copy.articles),
        left_out=tuple(a.title for a in copy.left_out),
        slots=marker,
        more=copy.more,
    )


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


def _context(config: Config, edition: Edition, copy: Copy, marker: str) -> dict[str, Any]:
    base = config.base_url
    words = language(config.newsletter.language)
    token = slot_text(marker, "token")
    articles = copy.articles
    top = articles[0].title if articles else ""
    label = week_label(config, edition)
    subject = config.digest.subject.format(
        name=config.newsletter.name,
        week_label=label,
        week=edition.week.label,
        count=len(articles),
        top_title=top,
    )
    return {
        "newsletter": config.newsletter,
        "language": words.tag,
        "direction": words.direction,
        "edition": edition,
        "week_label": label,
        "subject": subject,
        "preheader": _preheader(words, articles),
        "lead": copy.lead,
        "sections": copy.sections,
        "note_html": edition.note_html,
        "note_text": edition.note_text,
        "chosen_topics": [s.topic for s in copy.sections] if copy.key else [],
        "greeting": slot_text(marker, "greeting"),
        "email": slot_text(marker, "email"),
        "archive": False,
        "left_out": len(copy.left_out),
        "more": copy.more,
        "shown": len(articles),
        "links": {
            "home": base + "/",
            "view_in_browser": f"{base}/archive/{edition.week.label}.html",
            "unsubscribe": f"{base}/unsubscribe/{token}",
            "preferences": f"{base}/preferences/{token}",
        },
    }


def render_web_version(config: Config, edition: Edition, copy: Copy) -> str:
    """The edition as a public web page (``copy``: the whole week, `copies.web_copy`),
    no subscriber's links or address."""
    context = _context(config, edition, copy, secrets.token_hex(8))
    words = language(config.newsletter.language)
    lead_picture = copy.lead.picture(full=True) if copy.lead else None
    context.update(
        archive=True,
        greeting=words.gettext("Hello,"),
        email="",
        noindex=config.archive.noindex,
        share_image=copy.lead.image_url if copy.lead and lead_picture else "",
        structured_data=structured_data(context["subject"], context["links"], copy),
    )
    env = make_environment(templates_dir(config), config.newsletter.language)
    return _for_the_web(inline_css(_render(env, HTML_TEMPLATE, context), config.base_url))


# Outlook's own CSS properties (mso-hide, mso-line-height-rule...): the email needs them,
# a web page is invalid with them (the Nu checker refuses unknown properties).
_MSO = re.compile(r"\s*mso-[a-z-]+\s*:\s*[^;\"'}]+;?")


def _for_the_web(page: str) -> str:
    """The email's HTML as a web page: without the properties only Outlook reads."""
    return _MSO.sub("", page)


def structured_data(subject: str, links: Mapping[str, str], copy: Copy) -> str:
    """The web version's schema.org JSON-LD: an ItemList of the week's stories, each a
    NewsArticle (headline, address, date, author, picture), safe inside <script>."""
    items = []
    for position, article in enumerate(copy.articles, start=1):
        story: dict[str, Any] = {
            "@type": "NewsArticle",
            "headline": article.title[:110],
            "url": article.url,
            "datePublished": article.published_at.isoformat(),
        }
        if article.author:
            story["author"] = {"@type": "Person", "name": article.author}
        if article.image_url and article.picture(full=True):
            story["image"] = article.image_url
        items.append({"@type": "ListItem", "position": position, "item": story})
    data = {
        "@context": "https://schema.org",
        "@type": "ItemList",
        "name": subject,
        "url": links["view_in_browser"],
        "numberOfItems": len(items),
        "itemListElement": items,
    }
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    # Nothing in it may close the script or open a comment.
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def week_label(config: Config, edition: Edition) -> str:
    """A reader's name for the week, in the edition's language: "Nov 16 – 22, 2026"."""
    first = edition.week.start.date()
    return language(config.newsletter.language).week_range(first, first + timedelta(days=6))


def _preheader(words: Language, articles: list[EditionArticle]) -> str:
    """The inbox preview line: the lead's title and how many more stories."""
    if not articles:
        return ""
    rest = len(articles) - 1
    if not rest:
        return words.gettext("This week: %(title)s.") % {"title": articles[0].title}
    return words.ngettext(
        "This week: %(title)s and %(count)d more story.",
        "This week: %(title)s and %(count)d more stories.",
        rest,
    ) % {"title": articles[0].title, "count": rest}


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
    env = make_environment(folder, config.newsletter.language)
    words = language(config.newsletter.language)
    values = {
        "newsletter": config.newsletter,
        "language": words.tag,
        "direction": words.direction,
        **context,
    }
    return tuple(_render(env, name, values) for name in NOTICE_TEMPLATES)  # type: ignore[return-value]
