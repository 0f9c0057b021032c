"""Where fetches may go: addresses taken from third-party content (a feed's pictures,
the links `lint --check-links` tries, any redirect) never reach loopback, private,
link-local or metadata addresses, checked after DNS and on every redirect; the hosts the
publisher configured are trusted; `[feeds] allow_private_addresses` lets private ranges
through. Every server here is real, on 127.0.0.1, and counts what reached it."""

import http.server
import io
import socket
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digest import store
from digest.content.feeds import import_feed
from digest.content.fetching import Reach, Unreachable, address_kind, open_url
from digest.lint.edition import check_links

from ..conftest import NOW, make_config

FEED = (
    '<?xml version="1.0"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">'
    "<channel><title>T</title><link>https://paper.example.com/</link>{items}</channel></rss>"
)


def _item(n: int, picture: str) -> str:
    return (
        f"<item><title>Story {n}</title><link>https://paper.example.com/{n}</link>"
        f"<pubDate>Tue, 17 Nov 2026 1{n}:00:00 GMT</pubDate>"
        f"<description><![CDATA[<p>Text.</p>]]></description>"
        f'<media:content url="{picture}"/></item>'
    )


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (320, 200), (1, 2, 3)).save(out, "PNG")
    return out.getvalue()


class Site(http.server.ThreadingHTTPServer):
    routes: dict[str, tuple[int, dict[str, str], bytes]]
    seen: list[str]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Site

    def _answer(self, body: bool) -> None:
        self.server.seen.append(self.path)
        status, headers, data = self.server.routes.get(self.path, (404, {}, b""))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def do_GET(self) -> None:
        self._answer(True)

    def do_HEAD(self) -> None:
        self._answer(False)

    def log_message(self, *args: Any) -> None:
        pass


def _site() -> Site:
    server = Site(("127.0.0.1", 0), _Handler)
    server.routes, server.seen = {}, []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def sites() -> Iterator[tuple[Site, Site]]:
    """The publisher's own feed host, and another host nobody configured."""
    feed, other = _site(), _site()
    yield feed, other
    for server in (feed, other):
        server.shutdown()
        server.server_close()


def _feed_with_picture(feed: Site, picture: str) -> None:
    feed.routes["/feed.xml"] = (200, {}, FEED.format(items=_item(1, picture)).encode())


def test_a_feeds_picture_on_a_loopback_address_is_not_fetched(
    tmp_path: Path, sites: tuple[Site, Site]
) -> None:
    feed, other = sites
    other.routes["/admin.png"] = (200, {"Content-Type": "image/png"}, _png())
    _feed_with_picture(feed, f"{other.base}/admin.png")
    config = make_config(tmp_path)
    db = store.open_store(config.store_path)
    report, _ = import_feed(db, config, f"{feed.base}/feed.xml", NOW)
    assert report.added == 1, report.errors
    assert other.seen == []  # the internal host never saw a request
    article = store.all_articles(db)[0]
    assert (article.image_width, article.image_height) == (0, 0)
    # A picture on the feed's own host (the publisher configured it) is measured.
    feed.routes["/own.png"] = (200, {"Content-Type": "image/png"}, _png())
    _feed_with_picture(feed, f"{feed.base}/own.png")
    db2 = store.open_store(make_config(tmp_path / "own").store_path)
    import_feed(db2, config, f"{feed.base}/feed.xml", NOW)
    assert "/own.png" in feed.seen
    assert store.all_articles(db2)[0].image_width == 320


def test_a_name_that_resolves_to_loopback_is_refused_after_dns(
    tmp_path: Path, sites: tuple[Site, Site]
) -> None:
    feed, other = sites
    other.routes["/p.png"] = (200, {"Content-Type": "image/png"}, _png())
    port = other.server_address[1]
    _feed_with_picture(feed, f"http://localhost:{port}/p.png")
    config = make_config(tmp_path)
    db = store.open_store(config.store_path)
    import_feed(db, config, f"{feed.base}/feed.xml", NOW)
    assert other.seen == []


def test_a_redirect_from_the_configured_feed_to_another_loopback_host_is_refused(
    tmp_path: Path, sites: tuple[Site, Site]
) -> None:
    feed, other = sites
    feed.routes["/feed.xml"] = (302, {"Location": f"{other.base}/latest/meta-data/"}, b"")
    other.routes["/latest/meta-data/"] = (200, {}, FEED.format(items="").encode())
    config = make_config(tmp_path)
    db = store.open_store(config.store_path)
    report, _ = import_feed(db, config, f"{feed.base}/feed.xml", NOW)
    assert report.status == "error" and "a loopback address: not fetched" in report.problem
    assert other.seen == []
    # A redirect on the feed's own host is followed.
    feed.routes["/feed.xml"] = (301, {"Location": f"{feed.base}/moved.xml"}, b"")
    feed.routes["/moved.xml"] = (200, {}, FEED.format(items=_item(1, "")).encode())
    moved, _ = import_feed(db, config, f"{feed.base}/feed.xml", NOW)
    assert moved.status != "error", moved.problem


def test_allow_private_addresses_lets_a_publications_own_network_through(
    tmp_path: Path, sites: tuple[Site, Site]
) -> None:
    feed, other = sites
    other.routes["/p.png"] = (200, {"Content-Type": "image/png"}, _png())
    _feed_with_picture(feed, f"{other.base}/p.png")
    config = make_config(tmp_path, feeds={"allow_private_addresses": True})
    db = store.open_store(config.store_path)
    import_feed(db, config, f"{feed.base}/feed.xml", NOW)
    assert other.seen == ["/p.png"]
    assert store.all_articles(db)[0].image_width == 320


def test_lint_check_links_does_not_reach_internal_addresses(sites: tuple[Site, Site]) -> None:
    feed, other = sites
    other.routes["/ok"] = (200, {}, b"")
    feed.routes["/go"] = (302, {"Location": f"{other.base}/ok"}, b"")
    html = (
        f'<html><body><a href="{other.base}/ok">a</a><a href="{feed.base}/go">b</a></body></html>'
    )
    raw = ("MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html).encode()
    findings = check_links(raw)
    assert other.seen == [] and feed.seen == []
    assert {f.level for f in findings} == {"warning"}
    assert all("loopback address: not fetched" in f.message for f in findings)
    # The setting lets them through, redirect included.
    assert check_links(raw, reach=Reach(allow_private=True)) == []
    assert other.seen == ["/ok", "/ok"] and feed.seen == ["/go"]


def _resolving_to(address: str) -> Any:
    def resolve(host: str, port: int) -> list[tuple[Any, ...]]:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    return resolve


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("169.254.169.254", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("100.64.0.1", "non-public"),
        ("fe80::1", "link-local"),
        ("224.0.0.251", "multicast"),
        ("0.0.0.0", "unspecified"),
    ],
)
def test_every_address_dns_gives_is_checked(address: str, kind: str) -> None:
    import ipaddress

    assert address_kind(ipaddress.ip_address(address)) == kind
    reach = Reach(resolve=_resolving_to(address))
    request = urllib.request.Request("http://pictures.example.net/p.png")
    with pytest.raises(Unreachable, match=f"a {kind} address"):
        open_url(request, reach, 5.0)
    lenient = Reach(allow_private=True, resolve=_resolving_to(address))
    if kind == "cloud metadata":  # never, whatever the setting says
        with pytest.raises(Unreachable, match="cloud metadata"):
            open_url(request, lenient, 5.0)
    assert address_kind(ipaddress.ip_address("93.184.216.34")) == ""
