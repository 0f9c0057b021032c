"""Each use case the CLI, scheduler, web pages and desk adapt, called as a library."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from digest import approval, store
from digest.config import Config
from digest.content import edition
from digest.content.edition import list_articles, resolve_week
from digest.content.feeds import add_feed, import_source, list_feeds, remove_feed
from digest.content.weeks import week_window
from digest.delivery import preview, sending
from digest.errors import EditionError, IngestError, RowError, SubscriberError
from digest.lint.edition import lint_edition

from .conftest import NOW, make_config
from .fixtures import load_week

RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<link>https://feeds.example.com/</link>
<item><title>One</title><link>https://feeds.example.com/one</link>
<pubDate>Tue, 17 Nov 2026 10:00:00 GMT</pubDate><description>First.</description></item>
</channel></rss>"""


def test_feeds_are_added_by_canonical_address_and_removed(db: Any) -> None:
    address, outcome = add_feed(db, "HTTPS://News.Example.com/feed?utm_source=x", " DNS ", NOW)
    assert (address, outcome) == ("https://news.example.com/feed", "added")
    assert [(f.url, f.topic) for f in list_feeds(db)] == [(address, "DNS")]
    with pytest.raises(RowError, match="there is no feed file at"):
        add_feed(db, "not a url", "", NOW)
    with pytest.raises(RowError, match="absolute http"):
        add_feed(db, "https://", "", NOW)
    assert remove_feed(db, "https://news.example.com/feed?utm_medium=y") == address
    with pytest.raises(IngestError, match="is not in the feed list"):
        remove_feed(db, address)


def test_import_routes_feeds_files_and_the_configured_feeds(
    config: Config, db: Any, tmp_path: Path
) -> None:
    feed = tmp_path / "site.rss"
    feed.write_text(RSS)
    records = tmp_path / "a.jsonl"
    records.write_text(
        '{"url": "https://news.example.com/a", "title": "A", "published_at": "2026-11-18"}\n'
        '{"title": "no url"}\n'
    )
    as_feed = import_source(db, config, str(feed), "auto", NOW)
    assert as_feed.file is None and [f.added for f in as_feed.feeds] == [1]
    as_file = import_source(db, config, str(records), "auto", NOW)
    assert as_file.file is not None and (as_file.file.added, as_file.file.skipped) == (1, 1)
    assert as_file.file.errors[0]["line"] == 2
    add_feed(db, "https://127.0.0.1:9/feed.xml", "", NOW)  # nothing listens there
    configured = import_source(db, config, None, "auto", NOW)
    assert [f.status for f in configured.failed_feeds] == ["error"]


def test_articles_listing_is_all_or_one_week(config: Config, db: Any) -> None:
    load_week(config, db, NOW)
    week = resolve_week(config, "2026-W47", NOW)
    assert len(list_articles(config, db, week)) == 12
    assert len(list_articles(config, db, week_window("2026-W40", config.tz))) == 0
    assert len(list_articles(config, db, None)) == 12


def test_a_malformed_week_names_where_it_came_from(config: Config) -> None:
    with pytest.raises(EditionError, match=r"^--week '2026-47'"):
        resolve_week(config, "2026-47", NOW)
    with pytest.raises(EditionError, match=r"^\?week= '2026-W54'"):
        resolve_week(config, "2026-W54", NOW, source="?week=")


def test_preview_of_a_subscriber_not_on_the_list_says_so(config: Config, db: Any) -> None:
    load_week(config, db, NOW)
    week = resolve_week(config, None, NOW)
    found = preview.preview_for(config, db, week, "ana.sousa@example.org", NOW)
    assert found is not None and "ana.sousa@example.org" in found.message.decode()
    with pytest.raises(SubscriberError, match=r"nobody@example\.org is not on the list"):
        preview.preview_for(config, db, week, "nobody@example.org", NOW)


def test_lint_checks_the_edition_as_send_builds_it(config: Config, db: Any) -> None:
    assert lint_edition(config, db, resolve_week(config, None, NOW), NOW, draw=False) is None
    load_week(config, db, NOW)
    report = lint_edition(config, db, resolve_week(config, None, NOW), NOW, draw=False)
    assert report is not None and report.week == "2026-W47" and report.errors == []


def test_resume_picks_the_newest_unfinished_edition_and_status_counts_it(
    config: Config, db: Any
) -> None:
    with pytest.raises(EditionError, match="Nothing to resume"):
        sending.week_to_resume(db)
    load_week(config, db, NOW)
    week = week_window("2026-W47", config.tz)
    built = edition.build_edition(config, db, week)
    assert built is not None
    sending._freeze(db, week.label, sending.plan_send(config, db, built), NOW)
    assert sending.week_to_resume(db) == "2026-W47"
    [row] = sending.edition_status(db)
    assert (row["week"], row["pending"], row["sent"]) == ("2026-W47", 6, 0)


def test_test_addresses_are_validated_one_by_one() -> None:
    assert sending.test_addresses([" A@Example.org", " b@example.org ", ""]) == [
        "A@example.org",
        "b@example.org",
    ]
    with pytest.raises(RowError, match="--test: 'nope' is not a valid address"):
        sending.test_addresses(["a@example.org", "nope"])


def test_approve_refuses_a_week_that_was_never_held(config: Config, db: Any) -> None:
    load_week(config, db, NOW)
    with pytest.raises(EditionError, match="2026-W47 was never held for approval"):
        approval.approve_week(config, db, "2026-W47", "editor", lambda: NOW)
    assert store.get_edition(db, "2026-W47") is None


@pytest.mark.parametrize("hold", [False, True])
def test_the_weekly_run_builds_the_edition_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hold: bool
) -> None:
    schedule = {"hold": True, "editors": ["desk@example.com"]} if hold else {}
    config = make_config(tmp_path, schedule={"min_articles": 2, **schedule})
    load_week(config, store.open_store(config.store_path), NOW)
    builds: list[str] = []
    real = edition.build_edition

    def counting(config: Config, db: Any, week: Any) -> Any:
        builds.append(week.label)
        return real(config, db, week)

    for module in (approval, sending, edition):
        monkeypatch.setattr(module, "build_edition", counting)
    approval.run_weekly(config, lambda: NOW)
    assert builds == ["2026-W47"]
    if hold:
        tests = list((config.outbox_path / "2026-W47" / "test").glob("*.eml"))
        assert [p.name for p in tests] == ["desk@example.com.eml"]


def test_the_desk_answers_a_bad_week_with_a_400(config: Config, db: Any) -> None:
    from starlette.testclient import TestClient

    from digest.web.preview import create_preview_app

    load_week(config, db, NOW)
    with TestClient(
        create_preview_app(config, clock=lambda: NOW), base_url="http://127.0.0.1:8025"
    ) as client:
        assert client.get("/email.html?week=2026-W47").status_code == 200
        for week in ("2026-W99", "9999-W52", "nonsense"):
            response = client.get(f"/email.html?week={week}")
            assert response.status_code == 400 and "?week=" in response.text


def test_the_desk_opens_on_the_week_reader_and_part_it_was_started_with(
    config: Config, db: Any
) -> None:
    """`preview --serve --week W --subscriber EMAIL --text` opens the desk there."""
    from starlette.testclient import TestClient

    from digest.web.preview import PreviewView, create_preview_app

    load_week(config, db, NOW)
    view = PreviewView("2026-W47", "chen.wei@example.com", text=True)
    assert view.query() == "?week=2026-W47&subscriber=chen.wei%40example.com&text=1"
    app = create_preview_app(config, clock=lambda: NOW - timedelta(days=30), view=view)
    with TestClient(app, base_url="http://127.0.0.1:8025") as client:
        shell = client.get("/").text
        assert "2026-W47" in shell and 'id="text"' in shell and "checked" in shell
        assert '<option value="chen.wei@example.com" selected>' in shell
        text = client.get("/email.txt").text  # the default week and reader, no query
        assert "Cybersecurity" in text.upper() or "CYBERSECURITY" in text
        assert "IPv4 Markets" not in text  # Chen chose DNS and Cybersecurity


def test_the_dry_run_and_the_freeze_share_one_plan(config: Config, db: Any) -> None:
    """Who is skipped and why is decided once: the dry run reports the plan, the freeze
    stores exactly it."""
    load_week(config, db, NOW)
    store.insert_subscriber(db, "nothing@example.org", "", ["no-such-topic"], NOW)
    week = week_window("2026-W47", config.tz)
    dry = sending.send_edition(config, db, week, lambda: NOW, dry_run=True)
    assert dry is not None and dry.dry_run and not dry.problem
    assert dry.skipped == [
        ("nothing@example.org", "nothing this week in the chosen topics (no-such-topic)")
    ]
    assert store.get_edition(db, "2026-W47") is None  # stored nothing
    sent = sending.send_edition(config, db, week, lambda: NOW)
    assert sent is not None
    assert store.skipped_deliveries(db, sent.edition_id) == dry.skipped
    assert (sent.count("sent"), sent.count("skipped")) == (dry.count("pending"), 1)


def test_a_note_goes_to_the_coming_edition(config: Config, db: Any) -> None:
    """Right after the last complete week was sent, the next edition is the week now
    running: `digest note` without --week writes there, and says so."""
    load_week(config, db, NOW)
    week = week_window("2026-W47", config.tz)
    assert edition.coming_week(config, db, None, NOW).label == "2026-W47"  # not sent yet
    sending.send_edition(config, db, week, lambda: NOW + timedelta(days=5))
    assert edition.coming_week(config, db, None, NOW).label == "2026-W48"
    assert edition.coming_week(config, db, "2026-W50", NOW).label == "2026-W50"


def test_an_empty_week_says_where_the_articles_are(config: Config, db: Any) -> None:
    load_week(config, db, NOW)
    later = week_window("2026-W49", config.tz)
    assert edition.empty_week(config, db, later) == (
        "No published articles in 2026-W49, so there is no edition. The newest week with "
        "articles is 2026-W47: give --week 2026-W47."
    )


def test_an_editor_picks_the_lead_and_an_import_cannot_undo_it(config: Config, db: Any) -> None:
    from dataclasses import replace

    from digest.content.copies import choose_copy

    load_week(config, db, NOW)
    week = week_window("2026-W47", config.tz)

    def lead() -> str:
        built = edition.build_edition(config, db, week)
        assert built is not None
        copy = choose_copy(config, built, "")
        assert copy.lead is not None
        return copy.lead.title

    assert lead().startswith("Registrars Brace")  # featured by the CMS, best score
    ipv4 = "https://news.example.com/2026/11/ipv4-prices-steady"
    picked = edition.pick_lead(config, db, ipv4 + "?utm_source=x", "2026-W47", NOW, lead=True)
    assert picked.lead == picked.title == lead()
    assert lead().startswith("Transfer Prices for IPv4")
    # The next import of the same articles (featured as the CMS has them) changes nothing.
    for article in store.published_articles(db, week.start, week.end):
        store.upsert_article(db, replace(article, featured=not article.featured), NOW)
    assert lead().startswith("Transfer Prices for IPv4")
    # A second pick replaces the first; unfeaturing hands the lead back to the ranking.
    tlds = "https://news.example.com/2026/11/brand-tlds-live"
    again = edition.pick_lead(config, db, tlds, "2026-W47", NOW, lead=True)
    assert again.unpicked == ("Transfer Prices for IPv4 Blocks Steady After Two Years of Decline",)
    edition.pick_lead(config, db, tlds, "2026-W47", NOW, lead=False)
    assert not lead().startswith("Three New Brand TLDs")
    with pytest.raises(EditionError, match="published in 2026-W47, not 2026-W46"):
        edition.pick_lead(config, db, tlds, "2026-W46", NOW, lead=True)
    with pytest.raises(EditionError, match="articles list --week 2026-W47"):
        edition.pick_lead(config, db, "https://news.example.com/none", "2026-W47", NOW, lead=True)
    sending.send_edition(config, db, week, lambda: NOW)
    with pytest.raises(EditionError, match="frozen"):
        edition.pick_lead(config, db, tlds, "2026-W47", NOW, lead=True)
