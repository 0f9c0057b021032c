"""Bytes from the network or a file: a feed (conditional GET with ETag and
Last-Modified, a timeout, a size cap, gzip, a user agent) and the first bytes of a
picture, to learn its size. Every failure is an IngestError naming the address."""

from __future__ import annotations

import urllib.error
import urllib.request
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from digest import __version__
from digest.config import Config
from digest.content.images import PROBE_BYTES, image_size
from digest.errors import IngestError

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
) -> Fetched:
    """GET a feed, conditionally; IngestError naming the URL for any failure."""
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
        with urllib.request.urlopen(request, timeout=timeout) as response:
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


def picture_sizes(urls: list[str], *, timeout: float, agent: str) -> dict[str, tuple[int, int]]:
    """The size of each picture at ``urls`` (at most `MAX_PROBES`), read from its first
    `PROBE_BYTES` with a Range request, several at once; a picture that cannot be
    fetched or read is left out (its size stays unknown)."""
    wanted = list(dict.fromkeys(urls))[:MAX_PROBES]
    if not wanted:
        return {}
    with ThreadPoolExecutor(max_workers=min(_PROBERS, len(wanted))) as pool:
        sizes = pool.map(lambda url: _probe(url, timeout, agent), wanted)
        return {url: size for url, size in zip(wanted, sizes, strict=True) if size != (0, 0)}


def _probe(url: str, timeout: float, agent: str) -> tuple[int, int]:
    headers = {"User-Agent": agent, "Range": f"bytes=0-{PROBE_BYTES - 1}"}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=timeout
        ) as r:
            return image_size(r.read(PROBE_BYTES))
    except (urllib.error.URLError, TimeoutError, OSError, ValueError):
        return 0, 0
