"""Feeds in: the real-world feeds in ../shared/testdata/feeds, and a real HTTP server."""

import gzip
import http.server
import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digest import store
from digest.config import Config
from digest.content.feeds import (
    entry_articles,
    import_configured_feeds,
    import_feed,
    parse,
    read_file,
)

from ..conftest import NOW, TESTDATA, make_config, needs_testdata

FEEDS = TESTDATA / "feeds"
ALL_FEEDS = sorted(
    p
    for p in [*FEEDS.glob("*"), *(FEEDS / "feedparser_micro").glob("*")]
    if p.is_file() and not p.name.endswith(".json")
)


def _expected(feed: Path) -> dict[str, Any]:
    return json.loads(feed.with_name(feed.name + ".expected.json").read_text())


@needs_testdata
def test_the_test_data_is_there() -> None:
    assert len(ALL_FEEDS) >= 30


@pytest.mark.parametrize("feed", ALL_FEEDS, ids=lambda p: p.name)
@needs_testdata
@pytest.mark.slow
def test_every_feed_imports_with_absolute_urls_and_clean_titles(
    feed: Path, config: Config, db: Any
) -> None:
    report, _ = import_feed(db, config, str(feed), NOW)
    assert report.status == "ok", report.problem
    articles = store.all_articles(db)
    assert report.added == len(articles)
    for article in articles:
        assert re.match(r"^https?://[^/\s]+/", article.url), article.url
        assert article.title and article.title == article.title.strip()
        assert not re.search(r"<[a-zA-Z/][^>]*>|&(amp|lt|gt|quot|#\d+);", article.title), (
            article.title
        )
        assert article.published_at.tzinfo is not None
    for error in report.errors:
        assert error["reason"]  # every skipped entry says why


@pytest.mark.parametrize(
    "feed", [f for f in ALL_FEEDS if "expected_entries" in _expected(f)], ids=lambda p: p.name
)
@needs_testdata
@pytest.mark.slow
def test_counts_and_links_match_what_the_upstream_suites_expect(
    feed: Path, config: Config, db: Any
) -> None:
    from digest.content.ingest import canonical_url

    expected = [e for e in _expected(feed)["expected_entries"] if e.get("link")]
    report, _ = import_feed(db, config, str(feed), NOW)
    stored = {a.url for a in store.all_articles(db)}
    # Some suites keep links relative; they resolve against the feed's own link. A feed
    # proxy's redirect gives way to the original it names (feedburner:origLink).
    parsed = parse(read_file(feed, 10**7))
    feed_link = parsed.feed.get("link")
    original = {e.link: e.feedburner_origlink for e in parsed.entries if "feedburner_origlink" in e}
    wanted = {canonical_url(original.get(e["link"], e["link"]), feed_link) for e in expected}
    assert wanted <= stored
    assert len(stored) == len(wanted)
    assert report.added == len(wanted)


@needs_testdata
def test_relative_links_resolve_against_where_the_feed_was_fetched() -> None:
    feed = FEEDS / "node-feedparser__rss-with-relative-urls.xml"
    expected = _expected(feed)["expected_assertions"]
    fetched = read_file(feed, 10**6)
    fetched.base_url = expected["feed.xmlurl"]  # what an HTTP fetch of that URL sets
    urls = [a.url for _, a in entry_articles(parse(fetched), now=NOW, aliases={})]  # type: ignore[union-attr]
    assert urls == [expected["links[0]"], expected["links[1]"]]


@needs_testdata
def test_relative_links_without_any_base_fall_back_to_the_permalink_guid(
    config: Config, db: Any
) -> None:
    feed = FEEDS / "node-feedparser__rss-with-relative-urls.xml"
    report, _ = import_feed(db, config, str(feed), NOW)
    assert report.added == 2
    assert all(a.url.startswith("http://www.arcgames.com/") for a in store.all_articles(db))


@needs_testdata
def test_content_location_is_the_base_over_http(config: Config) -> None:
    feed = FEEDS / "feedparser_micro" / "http_item_content_encoded_base_content_location.xml"
    fetched = read_file(feed, 10**6)
    fetched.base_url = "http://example.com/"
    parsed = parse(fetched)
    assert (
        parsed.entries[0].content[0].value
        == '<a href="http://example.com/relative/uri">click here</a>'
    )
    [(_, skipped)] = entry_articles(parsed, now=NOW, aliases={})
    assert skipped.reason == "no usable link or permalink GUID"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("name", "script"),
    [
        ("feedparser_micro/koi8r.xml", "[\u0400-\u04ff]"),  # declared KOI8-R: Cyrillic
        ("feedparser_micro/shiftjis.xml", "[\u3040-\u30ff\u4e00-\u9fff]"),  # Japanese
        ("feedparser_micro/windows1255.xml", "[\u0590-\u05ff]"),  # undeclared: Hebrew
        ("node-feedparser__iconv.xml", "[\u0400-\u04ff]"),  # windows-1251
    ],
)
@needs_testdata
def test_declared_and_undeclared_encodings_are_decoded(name: str, script: str) -> None:
    parsed = parse(read_file(FEEDS / name, 10**7))
    text = " ".join(str(e.get("title", "")) + str(e.get("summary", "")) for e in parsed.entries)
    assert re.search(script, text)


@needs_testdata
def test_duplicate_guids_keep_the_first(config: Config, db: Any) -> None:
    feed = FEEDS / "node-feedparser__guid-dupes.xml"
    report, _ = import_feed(db, config, str(feed), NOW)
    assert any(a.url == "http://www.braingle.com/50366.html" for a in store.all_articles(db))
    assert all(e["reason"].startswith("duplicate GUID") for e in report.errors)


@needs_testdata
def test_undated_entries_fall_back_and_reimport_is_unchanged(config: Config, db: Any) -> None:
    feed = FEEDS / "rss-parser__heraldsun.rss"
    first, _ = import_feed(db, config, str(feed), NOW)
    again, _ = import_feed(db, config, str(feed), NOW)
    assert first.added == 2 and (again.added, again.unchanged) == (0, 2)


def test_categories_become_topics_through_the_alias_table(tmp_path: Path) -> None:
    config = make_config(tmp_path, topics={"News": "Cybersecurity"})
    feed = tmp_path / "f.xml"
    feed.write_text("""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
      <link>https://blog.example.com/</link>
      <item><title>A &amp; B &lt;i&gt;x&lt;/i&gt;</title><link>/p/1?utm_source=rss</link>
        <category>news</category><category>DNS</category></item>
      <item><title>No link</title><description>text</description></item>
      <item><guid isPermaLink="true">https://blog.example.com/p/2#frag</guid>
        <description>&lt;p&gt;Untitled body text here.&lt;/p&gt;</description></item>
    </channel></rss>""")
    db = store.open_store(config.store_path)
    report, _ = import_feed(db, config, str(feed), NOW, topic="Blog")
    articles = {a.url: a for a in store.all_articles(db)}
    first = articles["https://blog.example.com/p/1"]
    assert first.title == "A & B x"
    assert first.topics == ("Blog", "Cybersecurity", "DNS")
    assert articles["https://blog.example.com/p/2#frag"].title == "Untitled body text here."
    assert report.skipped == 1 and report.errors[0]["reason"] == "no usable link or permalink GUID"


def test_broken_xml_imports_what_is_readable(tmp_path: Path, config: Config, db: Any) -> None:
    feed = tmp_path / "broken.xml"
    feed.write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        "<item><title>Fine</title><link>https://e.example.com/1</link></item>"
        "<item><title>Broken &bogus; <b>tag</title><link>https://e.example.com/2"
    )
    report, _ = import_feed(db, config, str(feed), NOW)
    assert report.status == "ok" and report.problem.startswith("partly broken")
    assert "https://e.example.com/1" in {a.url for a in store.all_articles(db)}
    garbage = tmp_path / "garbage.xml"
    garbage.write_bytes(b"\x00\x01 not a feed at all")
    bad, _ = import_feed(db, config, str(garbage), NOW)
    assert bad.status == "error" and bad.problem.startswith("not a readable feed")


@needs_testdata
def test_gzipped_file(tmp_path: Path, config: Config, db: Any) -> None:
    source = FEEDS / "node-feedparser__invalid-characters-gzipped.xml"
    packed = tmp_path / "feed.xml.gz"
    packed.write_bytes(gzip.compress(source.read_bytes()))
    report, _ = import_feed(db, config, str(packed), NOW)
    assert report.status == "ok" and report.added > 0


# ---------------------------------------------------------------- over HTTP


class FeedServer(http.server.ThreadingHTTPServer):
    routes: dict[str, Any]
    requests: list[dict[str, str]]


class Handler(http.server.BaseHTTPRequestHandler):
    server: FeedServer

    def do_GET(self) -> None:
        self.server.requests.append({"path": self.path, **dict(self.headers)})
        route = self.server.routes.get(self.path, {"status": 404})
        time.sleep(route.get("delay", 0))
        if route.get("etag") and self.headers.get("If-None-Match") == route["etag"]:
            self.send_response(304)
            self.end_headers()
            return
        body = route.get("body", b"")
        if route.get("gzip"):
            body = gzip.compress(body)
        self.send_response(route["status"])
        self.send_header("Content-Type", route.get("type", "application/rss+xml"))
        if route.get("etag"):
            self.send_header("ETag", route["etag"])
        if route.get("gzip"):
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer(("127.0.0.1", 0), Handler)
    server.routes, server.requests = {}, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@needs_testdata
def test_configured_feeds_over_http_304_timeout_and_500(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    config = make_config(tmp_path, feeds={"timeout": 0.5})
    base = f"http://127.0.0.1:{feed_server.server_address[1]}"
    relative = (FEEDS / "node-feedparser__rss-with-relative-urls.xml").read_bytes()
    feed_server.routes = {
        "/good.xml": {"status": 200, "body": relative, "etag": '"v1"', "gzip": True},
        "/slow.xml": {"status": 200, "body": relative, "delay": 2},
        "/broken.xml": {"status": 500},
    }
    db = store.open_store(config.store_path)
    for path in ("/good.xml", "/slow.xml", "/broken.xml"):
        store.add_feed(db, base + path, "Gaming", NOW)

    first = {r.source.rsplit("/", 1)[1]: r for r in import_configured_feeds(db, config, NOW)}
    assert first["good.xml"].status == "ok" and first["good.xml"].added == 2
    assert first["slow.xml"].status == "error" and "timed out" in first["slow.xml"].problem
    assert first["broken.xml"].status == "error" and "HTTP 500" in first["broken.xml"].problem
    assert all(a.topics[0] == "Gaming" for a in store.all_articles(db))
    good_request = next(r for r in feed_server.requests if r["path"] == "/good.xml")
    assert good_request["User-Agent"].startswith("digest/")

    second = {r.source.rsplit("/", 1)[1]: r for r in import_configured_feeds(db, config, NOW)}
    assert second["good.xml"].status == "not-modified"
    assert feed_server.requests[-3]["If-None-Match"] == '"v1"'
    feeds = {f.url.rsplit("/", 1)[1]: f for f in store.list_feeds(db)}
    assert feeds["broken.xml"].error_count == 2 and "HTTP 500" in feeds["broken.xml"].last_error
    assert feeds["good.xml"].error_count == 0 and feeds["good.xml"].etag == '"v1"'


def test_oversized_feed_is_refused(tmp_path: Path, feed_server: FeedServer) -> None:
    config = make_config(tmp_path, feeds={"max_bytes": 2048})
    feed_server.routes = {"/big.xml": {"status": 200, "body": b"<rss>" + b" " * 10_000}}
    db = store.open_store(config.store_path)
    url = f"http://127.0.0.1:{feed_server.server_address[1]}/big.xml"
    report, _ = import_feed(db, config, url, NOW)
    assert report.status == "error" and "larger than [feeds] max_bytes = 2048" in report.problem


def test_relative_atom_links_resolve_against_the_feeds_self_link(
    tmp_path: Path, config: Config, db: Any
) -> None:
    feed = tmp_path / "atom.xml"
    feed.write_text(
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>'
        '<link rel="self" href="https://blog.example.com/feeds/atom.xml"/>'
        '<entry><title>A</title><link href="/posts/a"/><id>tag:example.com,2026:a</id>'
        "<updated>2026-11-18T10:00:00Z</updated></entry>"
        '<entry><title>B</title><link href="b.html"/><id>tag:example.com,2026:b</id>'
        "<updated>2026-11-18T11:00:00Z</updated></entry></feed>"
    )
    report, _ = import_feed(db, config, str(feed), NOW)
    assert (report.status, report.added, report.skipped) == ("ok", 2, 0)
    assert sorted(a.url for a in store.all_articles(db)) == [
        "https://blog.example.com/feeds/b.html",
        "https://blog.example.com/posts/a",
    ]


def test_a_relative_site_link_resolves_against_the_self_link_at_every_level(
    tmp_path: Path, config: Config, db: Any
) -> None:
    feed = tmp_path / "rss.xml"
    feed.write_text(
        '<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">'
        "<channel><title>T</title><link>/en/news</link>"
        '<atom:link rel="self" href="https://games.example.com/en/news/rss"/>'
        "<item><title>A</title><link>/en/news/detail/1</link>"
        "<pubDate>Tue, 17 Nov 2026 10:00:00 GMT</pubDate>"
        '<description><![CDATA[<p><img src="/img/a.jpg" width="640" height="360"> '
        "Text of A.</p>]]></description></item>"
        "<item><title>B</title><link>detail/2</link>"
        "<pubDate>Tue, 17 Nov 2026 11:00:00 GMT</pubDate></item>"
        "</channel></rss>"
    )
    report, _ = import_feed(db, config, str(feed), NOW)
    assert (report.status, report.added, report.skipped) == ("ok", 2, 0)
    articles = {a.title: a for a in store.all_articles(db)}
    assert articles["A"].url == "https://games.example.com/en/news/detail/1"
    assert articles["B"].url == "https://games.example.com/en/detail/2"
    assert (articles["A"].image_url, articles["A"].image_width) == (
        "https://games.example.com/img/a.jpg",
        640,
    )


MEDIA = (
    '<?xml version="1.0"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">'
    "<channel><title>T</title><link>https://paper.example.com/</link>{items}</channel></rss>"
)


def _item(n: int, extra: str, body: str = "<p>Text.</p>", link: str = "") -> str:
    return (
        f"<item><title>Story {n}</title><link>{link or f'https://paper.example.com/{n}'}"
        f"</link><pubDate>Tue, 17 Nov 2026 1{n}:00:00 GMT</pubDate>"
        f"<description><![CDATA[{body}]]></description>{extra}</item>"
    )


def test_pictures_from_media_rss_enclosures_and_bodies(
    tmp_path: Path, config: Config, db: Any
) -> None:
    items = [
        # media:content with neither medium nor type, two sizes: the larger wins.
        _item(
            1,
            '<media:content url="https://i.example.com/s.jpg" width="140" height="84"/>'
            '<media:content url="https://i.example.com/l.jpg" width="1024" height="614">'
            "<media:description>A crowd at the gate</media:description></media:content>",
        ),
        # A video is not a picture; its thumbnail is.
        _item(
            2,
            '<media:content url="https://v.example.com/clip.mp4"/>'
            '<media:thumbnail url="https://i.example.com/clip.jpg" width="480" height="270"/>',
        ),
        # An avatar is not a picture of the story.
        _item(3, '<media:thumbnail url="https://i.example.com/me.png" width="30" height="30"/>'),
        # A body picture that opens the article; share buttons and icons are not.
        _item(
            4,
            "",
            '<p><img src="https://i.example.com/icons/rss.png"><img '
            'src="https://paper.example.com/photo.jpg" alt="The harbour"> The harbour.</p>'
            '<p><a href="https://share.example.net/x"><img src="https://share.example.net/'
            'b.gif"></a></p>',
        ),
    ]
    feed = tmp_path / "media.xml"
    feed.write_text(MEDIA.format(items="".join(items)))
    report, _ = import_feed(db, config, str(feed), NOW)
    assert report.added == 4, report.errors
    found = {a.title: (a.image_url, a.image_width, a.image_alt) for a in store.all_articles(db)}
    assert found["Story 1"] == ("https://i.example.com/l.jpg", 1024, "A crowd at the gate")
    assert found["Story 2"] == ("https://i.example.com/clip.jpg", 480, "")
    assert found["Story 3"][0] == ""
    assert found["Story 4"] == ("https://paper.example.com/photo.jpg", 0, "The harbour")


def test_an_ad_the_feed_carries_is_skipped_with_its_reason(
    tmp_path: Path, config: Config, db: Any
) -> None:
    advert = '<a href="https://ads.example.net/c?1"><img src="https://ads.example.net/i?1"></a>'
    feed = tmp_path / "ads.xml"
    feed.write_text(
        MEDIA.format(
            items=_item(1, "")
            + _item(2, "", advert, link="https://ads.example.net/c?1")
            # a picture-only post on the paper's own site is an article
            + _item(3, "", '<a href="/p"><img src="/p.jpg"></a>')
        )
    )
    report, _ = import_feed(db, config, str(feed), NOW)
    assert (report.added, report.skipped) == (2, 1)
    assert "advertisement" in report.errors[0]["reason"]


def test_dates_in_another_language_and_categories_that_are_lists(
    tmp_path: Path, config: Config, db: Any
) -> None:
    feed = tmp_path / "pt.xml"
    feed.write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        "<link>https://jornal.example.com.br/</link><item><title>Notícia</title>"
        "<link>https://jornal.example.com.br/1</link>"
        "<pubDate>Seg, 24 Set 2018 19:42:40 -0300</pubDate>"
        "<category>Política, Eleições</category><category>Brasil/</category></item>"
        "</channel></rss>",
        encoding="utf-8",
    )
    import_feed(db, config, str(feed), NOW)
    [article] = store.all_articles(db)
    assert article.published_at.isoformat() == "2018-09-24T22:42:40+00:00"
    assert article.topics == ("Política", "Eleições", "Brasil")


@needs_testdata
def test_a_portuguese_feed_lands_in_its_own_week() -> None:
    parsed = parse(read_file(FEEDS / "rss-parser__uolNoticias.rss", 10**7))
    results = entry_articles(parsed, now=NOW, aliases={})
    dates = {a.published_at.date().isoformat() for _, a in results if not isinstance(a, Exception)}
    assert dates and all(d.startswith("2018-09") for d in dates)


def _picture(fmt: str, size: tuple[int, int], **options: Any) -> bytes:
    """A real picture file, written by Pillow's encoders."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (120, 90, 60)).save(out, fmt, **options)
    return out.getvalue()


@pytest.mark.parametrize(
    ("fmt", "options"),
    [
        ("PNG", {}),
        ("GIF", {}),
        ("JPEG", {}),
        ("JPEG", {"progressive": True}),
        ("WEBP", {}),
        ("WEBP", {"lossless": True}),
    ],
)
def test_a_pictures_size_is_read_from_its_first_bytes(fmt: str, options: dict[str, Any]) -> None:
    from digest.content.images import PROBE_BYTES, image_size

    data = _picture(fmt, (803, 451), **options)
    assert image_size(data[:PROBE_BYTES]) == (803, 451)
    assert image_size(data[:5]) == (0, 0)  # too little of it: unknown, never a guess


def test_a_jpeg_with_a_large_exif_block_and_what_is_not_a_picture() -> None:
    import io

    from PIL import Image

    from digest.content.images import PROBE_BYTES, image_size

    picture = Image.new("RGB", (1200, 630))
    exif = picture.getexif()
    exif[0x010E] = "a long description " * 2000  # ImageDescription: ~38 KB before the frame
    out = io.BytesIO()
    picture.save(out, "JPEG", exif=exif)
    assert image_size(out.getvalue()[:PROBE_BYTES]) == (1200, 630)
    assert image_size(b"<html>not a picture</html>") == (0, 0)


def test_pictures_without_a_stated_size_are_measured_over_http(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    base = f"http://127.0.0.1:{feed_server.server_address[1]}"
    items = "".join(
        _item(n, f'<media:content url="{base}/p{n}.{ext}"/>')
        for n, ext in ((1, "jpg"), (2, "png"), (3, "webp"), (4, "gif"))
    )
    feed_server.routes = {
        "/feed.xml": {"status": 200, "body": MEDIA.format(items=items).encode()},
        "/p1.jpg": {"status": 200, "body": _picture("JPEG", (1024, 576)), "type": "image/jpeg"},
        "/p2.png": {"status": 200, "body": _picture("PNG", (240, 160)), "type": "image/png"},
        "/p3.webp": {"status": 200, "body": b"not really a picture", "type": "image/webp"},
    }  # /p4.gif: 404
    config = make_config(tmp_path)
    db = store.open_store(config.store_path)
    report, _ = import_feed(db, config, f"{base}/feed.xml", NOW)
    assert report.added == 4, report.errors
    sizes = {a.title: (a.image_width, a.image_height) for a in store.all_articles(db)}
    assert sizes == {
        "Story 1": (1024, 576),
        "Story 2": (240, 160),
        "Story 3": (0, 0),  # unreadable: unknown, shown at most the column's width
        "Story 4": (0, 0),
    }
    probes = [r for r in feed_server.requests if r["path"].startswith("/p")]
    assert len(probes) == 4 and all(r["Range"] == "bytes=0-65535" for r in probes)
    # The next import knows them already: only the unknown ones are asked again.
    feed_server.requests.clear()
    import_feed(db, config, f"{base}/feed.xml", NOW)
    assert sorted(r["path"] for r in feed_server.requests) == ["/feed.xml", "/p3.webp", "/p4.gif"]
    # A file import never goes to the network.
    quiet = make_config(tmp_path / "q", feeds={"image_sizes": False})
    db2 = store.open_store(quiet.store_path)
    feed_server.requests.clear()
    import_feed(db2, quiet, f"{base}/feed.xml", NOW)
    assert [r["path"] for r in feed_server.requests] == ["/feed.xml"]


@pytest.mark.parametrize(
    "name", ["rss-parser__feedburner.atom", "node-feedparser__wapowellness.xml"]
)
@needs_testdata
def test_a_feed_proxys_entries_link_the_original(name: str, config: Config, db: Any) -> None:
    from digest.content.ingest import canonical_url

    feed = FEEDS / name
    found = re.findall(r"<(?:feedburner|pheedo):origLink>([^<]+)<", feed.read_text())
    originals = {canonical_url(o.strip()) for o in found}
    assert originals
    import_feed(db, config, str(feed), NOW)
    urls = {a.url for a in store.all_articles(db)}
    assert urls == originals  # not feedproxy.google.com/~r/... nor click.phdo?i=...


@pytest.mark.parametrize(
    "url",
    [
        "https://forum.example.org/images/filetype/jpg.gif",
        "https://forum.example.org/static/pdf.png",
        "https://forum.example.org/mimetypes/image.png",
        "https://cdn.example.org/icons/rss.svg",
    ],
)
def test_icons_are_known_by_their_address_wherever_a_feed_names_them(url: str) -> None:
    from digest.content.images import PageImage, best_image, is_decoration

    assert is_decoration(url)
    photo = PageImage("https://forum.example.org/attachments/42/photo.jpg")
    assert best_image([PageImage(url), photo]) == photo  # not the icon, even first
    assert best_image([PageImage(url, width=400)]).url == ""


def test_a_strip_is_no_picture_and_the_largest_candidate_wins() -> None:
    from digest.content.images import PageImage, best_image

    divider = PageImage("https://x.example/rule.png", width=600, height=8)
    thumb = PageImage("https://x.example/t.jpg", width=150, height=100)
    photo = PageImage("https://x.example/p.jpg", width=1200, height=800)
    assert best_image([divider, thumb, photo]) == photo
    assert best_image([divider, thumb]) == thumb
    assert best_image([divider]).url == ""
