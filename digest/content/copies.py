"""Each copy of an edition: the sections a topic choice gets, its lead, rendered within
the size budget.

A copy over `[digest] max_message_kb` of HTML as sent (Gmail clips longer ones, hiding
the unsubscribe link) loses articles in `sections.trim_order` until it fits: the size
is the rendered HTML part measured with the sender's own encoder (`bodies.part_size`),
and the fewest articles to leave out are found by bisection, a handful of renders.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import replace

from sqlite_utils import Database

from digest import store
from digest.bodies import part_size
from digest.config import Config
from digest.content.render import render_variant, render_web_version
from digest.content.sections import (
    copy_sections,
    in_scope,
    section_plan,
    split_lead,
    trim_order,
    whole_week,
    without,
)
from digest.errors import EditionError
from digest.models import Copy, Edition, RenderedVariant, Subscriber
from digest.tokens import sign_token

# Per-reader values as long as real ones get, for measuring a body with its slots full.
_SAMPLE_TOKEN = sign_token("x", "x", 10**9)
_SAMPLE_VALUES = {
    "token": _SAMPLE_TOKEN,
    "email": "a-rather-long-address@subscriber.example.org",
    "greeting": html.escape("Good morning, A Reader With A Long Name,"),
}


def choose_copy(config: Config, edition: Edition, key: str) -> Copy:
    """The copy for the topic choice ``key``, before any trimming, with how many of the
    week's articles it could carry (what it leaves out is said in it)."""
    plan = section_plan(config)
    lead, sections = split_lead(copy_sections(plan, edition, key))
    return Copy(key, lead, sections, in_week=in_scope(plan, edition, key))


def web_copy(config: Config, edition: Edition) -> Copy:
    """The web version's copy: the whole week, every article in its section."""
    lead, sections = split_lead(whole_week(section_plan(config), edition))
    copy = Copy("", lead, sections)
    return replace(copy, in_week=len(copy.articles))


def web_version(config: Config, edition: Edition) -> str:
    """The edition's web page: the whole week, every topic, no reader's links."""
    return render_web_version(config, edition, web_copy(config, edition))


def render_copy(config: Config, edition: Edition, key: str) -> RenderedVariant:
    """The copy for ``key`` rendered whole, without the size budget (the desk, tests)."""
    return render_variant(config, edition, choose_copy(config, edition, key))


def html_size(variant: RenderedVariant) -> int:
    """Bytes of a variant's HTML part as sent, its slots filled with long values."""
    return part_size(variant.html, variant.slots, _SAMPLE_VALUES)


def render_within_budget(config: Config, edition: Edition, key: str) -> RenderedVariant:
    """Render the copy for ``key``, leaving out the fewest articles (in `trim_order`)
    that bring its HTML part under ``[digest] max_message_kb``."""
    budget = config.digest.max_message_kb * 1024
    full = choose_copy(config, edition, key)
    variant = render_variant(config, edition, full)
    order = trim_order(full.sections)
    if html_size(variant) <= budget or not order:
        return variant

    def trimmed(count: int) -> RenderedVariant:
        gone = order[:count]
        sections = without(full.sections, {a.url for a in gone})
        copy = replace(full, sections=sections, left_out=tuple(gone))
        return render_variant(config, edition, copy)

    low, high = 1, len(order)  # the fewest left out that fit lie in [low, high]
    best: RenderedVariant | None = None  # trimmed(high), once rendered
    while low < high:
        middle = (low + high) // 2
        candidate = trimmed(middle)
        if html_size(candidate) <= budget:
            high, best = middle, candidate
        else:
            low = middle + 1
    return best if best is not None else trimmed(high)


def render_variants(config: Config, edition: Edition, keys: list[str]) -> list[RenderedVariant]:
    """Render and inline each distinct topic choice once, each within the size budget."""
    return list(iter_variants(config, edition, keys))


def iter_variants(config: Config, edition: Edition, keys: list[str]) -> Iterator[RenderedVariant]:
    """`render_variants` one at a time, as they are asked for (one held, not all)."""
    for key in dict.fromkeys(keys):
        yield render_within_budget(config, edition, key)


def variants_for_subscribers(
    config: Config, db: Database, edition: Edition
) -> Iterator[RenderedVariant]:
    """One rendered variant per distinct topic choice of the active subscribers, each
    rendered as it is asked for."""
    keys = store.active_topic_choices(db)
    if not keys:
        raise EditionError(
            "No active subscribers: nothing to send. Add some with `subscribers add` "
            "or `subscribers import`."
        )
    return iter_variants(config, edition, keys)


def reader_key(subscriber: Subscriber) -> str:
    """The variant key of a subscriber's topic choice."""
    return store.topics_key(subscriber.topics)


def left_out_warning(config: Config, variant: RenderedVariant) -> str:
    """What the editor is told when articles were dropped to fit the size budget."""
    copy = f"the {variant.key} copy" if variant.key else "the all-topics copy"
    return (
        f"Left out of {copy} to stay under {config.digest.max_message_kb} KB: "
        + "; ".join(variant.left_out)
        + " (they are in the web version)"
    )


def cut_warning(variants: list[RenderedVariant], names: dict[str, str]) -> str:
    """What the editor is told when copies carry fewer of the week's stories than it has
    for reasons other than the size budget (their limits); "" when none do."""
    cut = [v for v in variants if v.more > len(v.left_out)]
    if not cut:
        return ""
    said = "; ".join(
        f"{_copy_label(v.key, names)} {v.article_count} of {v.article_count + v.more}" for v in cut
    )
    return (
        f"Copies carry fewer stories than the week has ([digest] max_articles, "
        f"max_per_section, max_sections): {said}. Each email names the rest and links "
        "the web version, which has them all"
    )


def _copy_label(key: str, names: dict[str, str]) -> str:
    if not key:
        return "all topics"
    return ", ".join(names.get(k, k) for k in key.split(","))
