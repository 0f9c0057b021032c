"""Gmail clips messages past ~102 KB and hides the footer: stay under the budget."""

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from digest import store
from digest.content.copies import choose_copy, html_size, render_within_budget
from digest.content.edition import build_edition
from digest.content.render import render_variant
from digest.content.sections import trim_order, without
from digest.content.weeks import week_window
from digest.delivery.sending import send_edition
from digest.models import Article
from digest.readers.subscribers import save_subscriber

from ..conftest import NOW, make_config

LONG = "<p>" + "A long paragraph of the article with many words in it. " * 40 + "</p>"
TOPICS = ("DNS", "Cybersecurity", "Domain Names")


def _edition(tmp_path: Path, make_article: Callable[..., Article], kb: int) -> Any:
    config = make_config(
        tmp_path,
        digest={
            "max_message_kb": kb,
            "excerpt_chars": 2000,
            "max_articles": 20,
            "max_per_section": 20,
        },
    )
    db = store.open_store(config.store_path)
    start = datetime(2026, 11, 17, tzinfo=UTC)
    for i in range(12):
        store.upsert_article(
            db,
            make_article(
                title=f"Story {i:02d}",
                score=100 - i,
                body=LONG,
                published_at=start + timedelta(hours=i),
                topics=(TOPICS[i % 3],),
            ),
            NOW,
        )
    save_subscriber(db, "a@example.org", "", [], NOW)
    return config, db, build_edition(config, db, week_window("2026-W47", config.tz))


def test_over_budget_leaves_out_the_fewest_keeping_the_best_of_every_section(
    tmp_path: Path, make_article: Callable[..., Article]
) -> None:
    config, _, edition = _edition(tmp_path, make_article, kb=40)
    full = choose_copy(config, edition, "")
    assert html_size(render_variant(config, edition, full)) > 40 * 1024
    variant = render_within_budget(config, edition, "")
    assert html_size(variant) <= 40 * 1024
    count = len(variant.left_out)
    assert count and variant.article_count == 12 - count
    order = trim_order(full.sections)
    assert list(variant.left_out) == [a.title for a in order[:count]]
    # The fewest: one article fewer left out would not fit.
    back = order[: count - 1]
    fuller = replace(
        full, sections=without(full.sections, {a.url for a in back}), left_out=tuple(back)
    )
    assert html_size(render_variant(config, edition, fuller)) > 40 * 1024
    # Every section keeps its best story, the lead stays, the lowest ranks went first.
    kept = {a.title for a in choose_copy(config, edition, "").articles} - set(variant.left_out)
    assert {"Story 00", "Story 01", "Story 02"} <= kept
    assert "Story 11" in variant.left_out and "Story 10" in variant.left_out
    # Said near the top and again at the end, with the way to the rest.
    said = f"{count} more stories did not fit in this email."
    assert variant.html.count(said) == 2
    assert variant.html.index(said) < variant.html.index('class="lead-title"')
    assert variant.text.count(said) == 2
    assert "https://news.example.com/digest/archive/2026-W47.html" in variant.text
    assert "Unsubscribe" in variant.html  # the footer survives


def test_trimming_takes_from_the_fullest_section_first(
    tmp_path: Path, make_article: Callable[..., Article]
) -> None:
    config, _, edition = _edition(tmp_path, make_article, kb=1000)
    copy = choose_copy(config, edition, "")
    sizes = {s.slug: len(s.articles) for s in copy.sections}
    for article in trim_order(copy.sections):
        home = next(s.slug for s in copy.sections if article in s.articles)
        assert sizes[home] == max(sizes.values())  # never from a smaller section
        sizes[home] -= 1
    assert copy.lead is not None and copy.lead.title == "Story 00"


def test_send_reports_what_was_left_out_and_the_archive_keeps_it(
    tmp_path: Path, make_article: Callable[..., Article]
) -> None:
    config, db, _ = _edition(tmp_path, make_article, kb=40)
    report = send_edition(config, db, week_window("2026-W47", config.tz), lambda: NOW)
    assert report is not None and report.warnings
    assert report.warnings[0].startswith("Left out of the all-topics copy to stay under 40 KB:")
    assert "Story 11" in report.warnings[0]
    page = (config.archive_path / "2026-W47.html").read_text()
    assert "Story 11" in page  # the web version has everything


def test_the_budget_counts_the_html_part_as_sent_not_the_whole_message(
    tmp_path: Path, make_article: Callable[..., Article]
) -> None:
    from digest.mail.message import build_message, html_part_size, prepare_variant
    from digest.models import Subscriber

    roomy, _, edition = _edition(tmp_path, make_article, kb=1000)
    full = render_within_budget(roomy, edition, "")
    prepared = prepare_variant(roomy, full, "2026-W47", NOW)
    raw = build_message(roomy, prepared, Subscriber(id=1, email="a@example.org", name="Ann"))
    sent = html_part_size(raw)
    # Measured with the sender's encoder and long per-reader values: a shade above any
    # real reader's copy, never below it.
    assert sent <= html_size(full) <= sent * 1.01
    assert len(raw) > sent + 10 * 1024  # the text part and headers weigh a lot too
    between = sent // 1024 + 5  # the HTML fits, the whole message would not
    config = make_config(tmp_path / "b", digest={"max_message_kb": between})
    assert render_within_budget(config, edition, "").left_out == ()
