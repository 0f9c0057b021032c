"""Gmail clips messages past ~102 KB and hides the footer: stay under the budget."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from digest import store
from digest.content.edition import build_edition, html_size, render_within_budget
from digest.content.gather import week_window
from digest.delivery.sending import send_edition
from digest.models import Article
from digest.readers.subscribers import save_subscriber

from .conftest import NOW, make_config

LONG = "<p>" + "A long paragraph of the article with many words in it. " * 40 + "</p>"


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
            ),
            NOW,
        )
    save_subscriber(db, "a@example.org", "", [], NOW)
    return config, db, build_edition(config, db, week_window("2026-W47", config.tz))


def test_over_budget_drops_the_lowest_ranked_and_points_to_the_web(
    tmp_path: Path, make_article: Callable[..., Article]
) -> None:
    config, _, edition = _edition(tmp_path, make_article, kb=40)
    full = render_within_budget(
        make_config(tmp_path / "big", digest={"max_message_kb": 1000}), edition, ""
    )
    assert html_size(config, full, "2026-W47") > 40 * 1024
    variant = render_within_budget(config, edition, "")
    assert html_size(config, variant, "2026-W47") <= 40 * 1024
    assert variant.left_out and variant.left_out[0] == "Story 11"  # the lowest rank goes first
    assert list(variant.left_out) == sorted(variant.left_out, reverse=True)
    assert variant.article_count == 12 - len(variant.left_out)
    count = len(variant.left_out)
    assert f"{count} more stories this week in the" in variant.html
    assert "https://news.example.com/digest/archive/2026-W47.html" in variant.text
    assert "Unsubscribe" in variant.html  # the footer survives


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
    from digest.delivery.message import build_message, html_part_size, prepare_variant
    from digest.models import Subscriber

    roomy, _, edition = _edition(tmp_path, make_article, kb=1000)
    full = render_within_budget(roomy, edition, "")
    prepared = prepare_variant(roomy, full, "2026-W47", NOW)
    raw = build_message(roomy, prepared, Subscriber(id=1, email="a@example.org"))
    html_kb = html_part_size(raw) / 1024
    assert len(raw) / 1024 > html_kb + 10  # the text part and headers weigh a lot too
    between = int(html_kb) + 5  # the HTML fits, the whole message would not
    config = make_config(tmp_path / "b", digest={"max_message_kb": between})
    assert render_within_budget(config, edition, "").left_out == ()
