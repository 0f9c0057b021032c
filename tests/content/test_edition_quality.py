"""An edition an editor is proud of: the editor's note, the lead story, the contents,
images that keep their size and say what they show, greetings by first name."""

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import lxml.html
import pytest

from digest import store
from digest.config import Config
from digest.content.copies import render_copy
from digest.content.edition import build_edition
from digest.content.ingest import import_articles
from digest.content.notes import render_note, set_week_note
from digest.content.weeks import week_window
from digest.delivery.preview import preview_edition
from digest.delivery.sending import send_edition
from digest.errors import EditionError
from digest.mail.message import message_parts
from digest.models import Article, Subscriber

from ..conftest import NOW, make_config

WEEK = "2026-W47"


def _week(config: Config) -> Any:
    return week_window(WEEK, config.tz)


def test_the_note_is_safe_markdown_first_in_both_parts_and_frozen_with_the_edition(
    config: Config, db: Any, make_article: Callable[..., Article]
) -> None:
    for i in range(3):
        store.upsert_article(db, make_article(title=f"Story {i}"), NOW)
    note = (
        "A *busy* week: read [our report](https://news.example.com/report).\n\n"
        "<script>alert(1)</script> and [no](javascript:alert(1))"
    )
    set_week_note(db, WEEK, NOW, text=note)
    html_part, _ = render_note(note)
    assert "<em>busy</em>" in html_part and "<script>" not in html_part
    assert 'href="javascript' not in html_part and "&lt;script&gt;" in html_part
    preview = preview_edition(config, db, _week(config), None, NOW)
    assert preview is not None
    html, text = preview.html, preview.text
    assert html.index("A <em") < html.index(">Story 0</a>")  # the note comes first
    assert text.index("FROM THE EDITORS") < text.index("Story 0")
    assert "our report (https://news.example.com/report)" in text
    store.insert_subscriber(db, "reader@example.org", "", [], NOW)
    send_edition(config, db, _week(config), lambda: NOW)
    with pytest.raises(EditionError, match="frozen"):
        set_week_note(db, WEEK, NOW, text="Too late")
    again = preview_edition(config, db, _week(config), None, NOW)
    assert again is not None and again.frozen and "<em>busy</em>" in again.html


def test_a_lead_story_with_its_image_one_h1_and_the_contents(
    config: Config, db: Any, make_article: Callable[..., Article]
) -> None:
    store.upsert_article(
        db,
        make_article(
            title="The big one",
            featured=True,
            topics=("DNS",),
            image_url="https://cdn.example.com/big.jpg",
            image_alt="Servers in a rack",
            image_width=1200,
            image_height=630,
        ),
        NOW,
    )
    store.upsert_article(db, make_article(title="Second", topics=("Cybersecurity",)), NOW)
    store.upsert_article(
        db,
        make_article(title="Third", topics=("DNS",), image_url="https://cdn.example.com/t.jpg"),
        NOW,
    )
    store.upsert_article(
        db,
        make_article(
            title="Small",
            topics=("DNS",),
            image_url="https://cdn.example.com/small.png",
            image_width=300,
            image_height=200,
        ),
        NOW,
    )
    store.upsert_article(
        db,
        make_article(
            title="Avatar",
            topics=("Cybersecurity",),
            image_url="https://cdn.example.com/avatar.png",
            image_width=30,
            image_height=30,
        ),
        NOW,
    )
    edition = build_edition(config, db, _week(config))
    assert edition is not None
    page = lxml.html.fromstring(render_copy(config, edition, "").html)
    assert len(page.xpath("//h1")) == 1
    lead = page.xpath("//td[contains(@class, 'lead')]")[0]
    assert lead.xpath(".//h2//a/text()") == ["The big one"]
    [image] = lead.xpath(".//img")
    assert (image.get("width"), image.get("height"), image.get("alt")) == (
        "552",
        "290",
        "Servers in a rack",
    )
    titles = page.xpath("//h3[contains(@class, 'article-title')]//a/text()")
    assert "The big one" not in titles
    assert sorted(titles) == ["Avatar", "Second", "Small", "Third"]
    assert page.xpath("//h2[contains(@class, 'toc-title')]/text()") == ["In this issue"]
    images = {i.get("src").rsplit("/", 1)[1]: i for i in page.xpath("//td[@class='article']//img")}
    assert "avatar.png" not in images  # an icon is not a picture of the story
    small, unknown = images["small.png"], images["t.jpg"]
    # Below the lead, a picture is a thumbnail beside the text, never across the column;
    # every img has a width for Outlook.
    assert (small.get("width"), small.get("height"), small.get("align")) == ("120", "80", "right")
    assert "width:120px" in small.get("style") and "display:block" not in small.get("style")
    # Of unknown size: the box's width for Outlook, its own size up to it elsewhere.
    assert (unknown.get("width"), unknown.get("height"), unknown.get("alt")) == ("120", None, "")
    assert "max-width:120px" in unknown.get("style") and "width:auto" in unknown.get("style")
    # While images are blocked: a background colour, and the alt text in a readable style.
    assert "background-color:#dde3ea" in small.get("style")
    assert all(a.get("href") != "https://cdn.example.com/big.jpg" for a in page.xpath("//a"))


def test_images_come_from_the_record_a_page_or_a_feed(
    config: Config, db: Any, tmp_path: Path
) -> None:
    from digest.content.feeds import entry_articles, parse
    from digest.content.fetching import Fetched

    page = (
        "<!DOCTYPE html><html><head><title>T</title>"
        '<meta property="og:image" content="/img/lead.jpg">'
        '<meta property="og:image:alt" content="A map of the outage">'
        '<meta property="og:image:width" content="1000"><meta property="og:image:height" '
        'content="500"></head><body><article><p>Body text. More text here.</p></article>'
        "</body></html>"
    )
    records = tmp_path / "a.jsonl"
    import json

    records.write_text(
        json.dumps(
            {
                "url": "https://news.example.com/a",
                "title": "A",
                "published_at": "2026-11-18",
                "body": page,
            }
        )
        + "\n"
        + json.dumps(
            {
                "url": "https://news.example.com/b",
                "title": "B",
                "published_at": "2026-11-18",
                "image_url": "https://cdn.example.com/b.png",
                "image_width": "800",
                "image_height": "400",
            }
        )
        + "\n"
        + json.dumps(
            {
                "url": "https://news.example.com/c",
                "title": "C",
                "published_at": "2026-11-18",
                "image_url": "https://cdn.example.com/c.png",
                "image_width": "wide",
            }
        )
        + "\n"
    )
    report = import_articles(db, records, "auto", config.tz, NOW)
    assert (report.added, report.skipped) == (2, 1)
    assert "image_width must be a whole number" in report.errors[0]["reason"]
    by_url = {a.url: a for a in store.all_articles(db)}
    a = by_url["https://news.example.com/a"]
    assert (a.image_url, a.image_alt, a.image_width, a.image_height) == (
        "https://news.example.com/img/lead.jpg",
        "A map of the outage",
        1000,
        500,
    )
    assert by_url["https://news.example.com/b"].image_width == 800
    feed = (
        b'<?xml version="1.0"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">'
        b"<channel><title>T</title><link>https://e.example/</link>"
        b'<item><title>M</title><link>https://e.example/m</link><media:content url="/i/m.jpg" '
        b'medium="image" width="1200" height="600"/></item>'
        b"<item><title>E</title><link>https://e.example/e</link><enclosure "
        b'url="https://e.example/e.png" type="image/png" length="1"/></item></channel></rss>'
    )
    found = entry_articles(parse(Fetched(feed)), now=NOW, aliases={})
    images = {label: (art.image_url, art.image_width) for label, art in found}  # type: ignore[union-attr]
    assert images["https://e.example/m"] == ("https://e.example/i/m.jpg", 1200)
    assert images["https://e.example/e"] == ("https://e.example/e.png", 0)


@pytest.mark.parametrize(
    ("template", "name", "expected"),
    [
        ("Hi {first_name},", "Ana Sousa", "Hi Ana,"),
        ("Dear {name}:", "Ana Sousa", "Dear Ana Sousa:"),
        ("Hi {first_name},", "", "Hello there,"),
    ],
)
def test_the_greeting_is_a_template_in_config(
    tmp_path: Path,
    db: Any,
    make_article: Callable[..., Article],
    template: str,
    name: str,
    expected: str,
) -> None:
    config = make_config(
        tmp_path, digest={"greeting": template, "greeting_anonymous": "Hello there,"}
    )
    store.upsert_article(db, make_article(), NOW)
    reader = Subscriber(id=5, email="ana@example.org", name=name)
    preview = preview_edition(config, db, _week(config), reader, NOW)
    assert preview is not None
    html, text = message_parts(preview.message)
    assert expected in text and expected in html


def test_a_greeting_template_with_an_unknown_field_is_a_config_error(tmp_path: Path) -> None:
    from digest.errors import ConfigError

    with pytest.raises(ConfigError, match=r"\[digest\] greeting"):
        make_config(tmp_path, digest={"greeting": "Hi {surname},"})


@pytest.mark.parametrize(
    ("alt", "shown"),
    [
        ("A map of the new shelters across Tokyo", "A map of the new shelters across Tokyo"),
        ("Tokyo unveils a new disaster plan", ""),  # the headline beside it again
        ("tokyo unveils a new disaster plan.", ""),
        ("new disaster plan", ""),  # a part of the headline
        ("alt", ""),
        ("Image", ""),
        ("IMG_2041.JPG", ""),
        ("DSC00012", ""),
        ("https://news.example.com/a.jpg", ""),
        ("shelters", ""),  # the picture's own file name
        ("***", ""),
        ("صورة", ""),
        ("避難所の地図", "避難所の地図"),
    ],
)
def test_an_alt_that_says_nothing_or_repeats_the_headline_is_empty(
    tmp_path: Path, make_article: Callable[..., Article], alt: str, shown: str
) -> None:

    config = make_config(tmp_path)
    db = store.open_store(config.store_path)
    week = week_window("2026-W47", config.tz)
    store.upsert_article(
        db,
        make_article(
            title="Tokyo unveils a new disaster plan",
            image_url="https://news.example.com/img/shelters.jpg",
            image_width=800,
            image_alt=alt,
            published_at=week.start + timedelta(days=1),
        ),
        NOW,
    )
    edition = build_edition(config, db, week)
    assert edition is not None
    [img] = lxml.html.document_fromstring(render_copy(config, edition, "").html).iter("img")
    assert img.get("alt") == shown


def test_a_lead_picture_narrower_than_half_the_column_is_a_thumbnail_beside_it(
    config: Config, db: Any, make_article: Callable[..., Article]
) -> None:
    for title, width in (("Lead", 150), ("Other", 0)):
        store.upsert_article(
            db,
            make_article(
                title=title,
                featured=title == "Lead",
                image_url=f"https://cdn.example.com/{title}.jpg" if width else "",
                image_width=width,
                image_height=100,
            ),
            NOW,
        )
    edition = build_edition(config, db, _week(config))
    assert edition is not None
    page = lxml.html.fromstring(render_copy(config, edition, "").html)
    [image] = page.xpath("//td[contains(@class, 'lead')]//img")
    assert (image.get("width"), image.get("height"), image.get("align")) == ("120", "80", "right")
    assert all(int(i.get("width")) for i in page.iter("img"))  # every img has a width
