"""Bytes from the network or a file: a feed (conditional GET with ETag and
Last-Modified, a timeout, a size cap, gzip, a user agent), the first bytes of a
picture, to learn its size, and a link's answer for `lint --check-links`. Every failure
is an IngestError naming the address.

Every fetch goes through one guard (`Reach`): an address taken from third-party
content (a picture, a link, any redirect) never reaches a loopback, private,
link-local, shared, multicast or cloud metadata address, checked on the addresses DNS
gives, at each connection (so each redirect too); only the hosts the publisher
configured (a feed's own host) are trusted; `[feeds] allow_private_addresses` lets
private ranges through (never the metadata addresses)."""

from __future__ import annotations

import functools
import http.client
import ipaddress
import socket
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from digest import __version__
from digest.config import Config
from digest.content.images import PROBE_BYTES, image_size
from digest.errors import IngestError, Unreachable

_GZIP_MAGIC = b"\x1f\x8b"
# Pictures whose size one feed's import reads at most, and how many at once.
MAX_PROBES = 100
_PROBERS = 8


@dataclass
class Fetched:
    """What a fetch got: the bytes (None when not modified) and the validators."""

    data: bytes | None
    etag: str = ""
    modified: str = ""
    base_url: str = ""
    content_type: str = ""


# ---------------------------------------------------------------- where a fetch may go

# Cloud instance metadata services: never reached, whatever the setting says.
METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
Resolver = Callable[[str, int], Sequence[tuple[Any, ...]]]


def _resolve(host: str, port: int) -> Sequence[tuple[Any, ...]]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def address_kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """What kind of address ``ip`` is when it is not a public one ("" when it is)."""
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    if ip in METADATA:
        return "cloud metadata"
    for kind, test in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("private", ip.is_private),
    ):
        if test:
            return kind
    return "" if ip.is_global else "non-public"


@dataclass(frozen=True)
class Reach:
    """Where fetches may connect: public addresses, the ``trusted`` (host, port) pairs
    the publisher configured (checked by name, not address), and with
    ``allow_private`` private, loopback and link-local ranges too."""

    allow_private: bool = False
    trusted: frozenset[tuple[str, int]] = frozenset()
    resolve: Resolver = field(default=_resolve, compare=False)
    setting: str = "[feeds] allow_private_addresses"  # what lets private ranges through

    def trusting(self, url: str) -> Reach:
        """This reach with ``url``'s host and port trusted (a configured feed)."""
        return replace(self, trusted=self.trusted | {_host_port(url)})

    def addresses(self, host: str, port: int) -> Sequence[tuple[Any, ...]]:
        """``host``'s addresses, once each is known to be one a fetch may reach;
        Unreachable naming the address otherwise (every address DNS gives is checked)."""
        try:
            found = self.resolve(host, port)
        except OSError as e:
            raise urllib.error.URLError(f"cannot resolve {host} ({e})") from e
        if (host.lower().strip("[]"), port) in self.trusted:
            return found
        for info in found:
            ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            kind = address_kind(ip)
            if kind and (kind == "cloud metadata" or not self.allow_private):
                hint = (
                    ""
                    if kind == "cloud metadata"
                    else f" (set {self.setting} = true if this publication "
                    "needs its own private addresses)"
                )
                raise Unreachable(f"{host} is {ip}, a {kind} address: not fetched{hint}")
        return found

    def connect(
        self, address: tuple[str, int], timeout: Any = None, source: Any = None
    ) -> socket.socket:
        """`socket.create_connection` to a checked address of ``address``'s host (the
        address checked is the one connected to: no second look-up to rebind)."""
        host, port = address
        problem: OSError | None = None
        for family, kind, proto, _, where in self.addresses(host, port):
            sock = socket.socket(family, kind, proto)
            try:
                if timeout is not None and timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
                    sock.settimeout(timeout)
                if source:
                    sock.bind(source)
                sock.connect(where)
                return sock
            except OSError as e:
                sock.close()
                problem = e
        raise problem or OSError(f"no address for {host}")


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    default = 443 if parts.scheme.lower() == "https" else 80
    try:
        port = parts.port or default
    except ValueError:
        port = default
    return (parts.hostname or "").lower(), port


class _GuardedHTTP(http.client.HTTPConnection):
    def __init__(self, *args: Any, reach: Reach, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = reach.connect


class _GuardedHTTPS(http.client.HTTPSConnection):
    def __init__(self, *args: Any, reach: Reach, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = reach.connect


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, reach: Reach) -> None:
        super().__init__()
        self.reach = reach

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_GuardedHTTP, reach=self.reach), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, reach: Reach) -> None:
        super().__init__()
        self.reach = reach

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(
            functools.partial(_GuardedHTTPS, reach=self.reach),
            req,
            context=getattr(self, "_context", None),
        )


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Each redirect's address checked before it is followed, also through a proxy
    (the connection guard sees only the proxy then)."""

    def __init__(self, reach: Reach) -> None:
        super().__init__()
        self.reach = reach

    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        host, port = _host_port(newurl)
        if host:
            self.reach.addresses(host, port)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx is the answer itself (an HTTPError), never followed."""

    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        return None


def open_url(
    request: urllib.request.Request, reach: Reach, timeout: float, *, redirects: bool = True
) -> Any:
    """urlopen through the guard: the request's own host and each redirect's checked
    (``redirects=False``: a 3xx is not followed but answered as an HTTPError).
    Unreachable when one is not an address ``reach`` allows."""
    host, port = _host_port(request.full_url)
    proxies = urllib.request.getproxies()
    proxied = {_host_port(u) for u in proxies.values() if "://" in u}
    guarded = replace(reach, trusted=reach.trusted | proxied)
    if urlsplit(request.full_url).scheme in proxies and host:
        guarded.addresses(host, port)  # a proxy connects for us: look first
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler(proxies),
        _HTTPHandler(guarded),
        _HTTPSHandler(guarded),
        _Redirects(guarded) if redirects else _NoRedirects(),
    )
    return opener.open(request, timeout=timeout)


def user_agent(config: Config) -> str:
    """`[feeds] user_agent`, else digest/<version> (+<base_url>)."""
    return config.feeds.user_agent or f"digest/{__version__} (+{config.base_url})"


def fetch(
    url: str,
    *,
    etag: str = "",
    modified: str = "",
    timeout: float,
    max_bytes: int,
    user_agent: str,
    reach: Reach | None = None,
) -> Fetched:
    """GET a feed, conditionally; IngestError naming the URL for any failure. The
    feed's own host is trusted (the publisher configured it); its redirects elsewhere
    are held to ``reach``."""
    headers = {
        "User-Agent": user_agent,
        "Accept-Encoding": "gzip",
        "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, "
        "text/xml;q=0.8, */*;q=0.1",
    }
    if etag:
        headers["If-None-Match"] = etag
    if modified:
        headers["If-Modified-Since"] = modified
    request = urllib.request.Request(url, headers=headers)
    try:
        with open_url(request, (reach or Reach()).trusting(url), timeout) as response:
            raw = response.read(max_bytes + 1)
            if len(raw) > max_bytes:
                raise IngestError(f"{url}: larger than [feeds] max_bytes = {max_bytes}")
            if response.headers.get("Content-Encoding", "").lower() == "gzip":
                raw = _gunzip(raw, max_bytes, url)
            return Fetched(
                raw,
                response.headers.get("ETag", ""),
                response.headers.get("Last-Modified", ""),
                response.geturl(),
                response.headers.get("Content-Type", ""),
            )
    except Unreachable as e:
        raise IngestError(f"{url}: {e}") from e
    except urllib.error.HTTPError as e:
        if e.code == 304:
            return Fetched(None, etag, modified, url)
        raise IngestError(f"{url}: the server answered HTTP {e.code} {e.reason}") from e
    except urllib.error.URLError as e:
        raise IngestError(f"{url}: cannot fetch it ({e.reason})") from e
    except (TimeoutError, OSError) as e:
        raise IngestError(f"{url}: cannot fetch it ({e or 'timed out'})") from e


def _gunzip(raw: bytes, max_bytes: int, source: str) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(raw, max_bytes + 1)
    except zlib.error as e:
        raise IngestError(f"{source}: broken gzip data ({e})") from e
    if len(data) > max_bytes:
        raise IngestError(f"{source}: larger than [feeds] max_bytes = {max_bytes} unpacked")
    return data


def read_file(path: Path, max_bytes: int) -> Fetched:
    """A feed from a file (gzipped or not)."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise IngestError(f"Cannot read {path}: {e.strerror}. Check the path.") from e
    if raw.startswith(_GZIP_MAGIC):
        raw = _gunzip(raw, max_bytes, str(path))
    return Fetched(raw)


def picture_sizes(
    urls: list[str], *, timeout: float, agent: str, reach: Reach | None = None
) -> dict[str, tuple[int, int]]:
    """The size of each picture at ``urls`` (at most `MAX_PROBES`), read from its first
    `PROBE_BYTES` with a Range request, several at once; a picture that cannot be
    fetched or read, or is at an address ``reach`` does not allow, is left out (its
    size stays unknown)."""
    wanted = list(dict.fromkeys(urls))[:MAX_PROBES]
    if not wanted:
        return {}
    guard = reach or Reach()
    with ThreadPoolExecutor(max_workers=min(_PROBERS, len(wanted))) as pool:
        sizes = pool.map(lambda url: _probe(url, timeout, agent, guard), wanted)
        return {url: size for url, size in zip(wanted, sizes, strict=True) if size != (0, 0)}


def _probe(url: str, timeout: float, agent: str, reach: Reach) -> tuple[int, int]:
    headers = {"User-Agent": agent, "Range": f"bytes=0-{PROBE_BYTES - 1}"}
    try:
        with open_url(urllib.request.Request(url, headers=headers), reach, timeout) as r:
            return image_size(r.read(PROBE_BYTES))
    except (Unreachable, urllib.error.URLError, TimeoutError, OSError, ValueError):
        return 0, 0


def link_problem(url: str, timeout: float, reach: Reach) -> tuple[str, str]:
    """(level, problem) of one link's answer to HEAD: ("", "") for 2xx and 3xx, an
    error for other answers and for no answer, a warning for a link at an address
    ``reach`` does not allow (not fetched)."""
    request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "digest lint"})
    try:
        with open_url(request, reach, timeout) as response:
            return ("", "") if response.status < 400 else ("error", f"HTTP {response.status}")
    except urllib.error.HTTPError as e:
        return "error", f"HTTP {e.code}"
    except Unreachable as e:
        return "warning", str(e)
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        return "error", f"unreachable ({getattr(e, 'reason', e)})"


def reach_of(config: Config) -> Reach:
    """The `Reach` of third-party addresses under ``config``."""
    return Reach(allow_private=config.feeds.allow_private_addresses)
