"""An article's picture: the candidates a feed entry or a page offers, and the best one.

Feeds name pictures in many ways: Media RSS ``media:content`` (often without ``medium``
or ``type``) and ``media:thumbnail``, image enclosures, ``<img>`` in the body, and a
full page's ``og:image``. Each candidate keeps the size its source states; the largest
known one wins, an icon (narrower than `models.PICTURE_MIN_WIDTH`) never does, and
trackers (1x1 pixels) are not pictures.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urlsplit

from digest.models import PICTURE_MIN_WIDTH

# Media that are not pictures, by what their address ends in.
_NOT_A_PICTURE = re.compile(
    r"\.(?:mp4|m4v|mov|webm|mkv|avi|mp3|m4a|aac|ogg|oga|opus|wav|flac|pdf|zip|gz)(?:[?#]|$)",
    re.I,
)
_PICTURE_FILE = re.compile(r"\.(?:jpe?g|png|gif|webp|avif)(?:[?#]|$)", re.I)


@dataclass(frozen=True)
class PageImage:
    """The image a page names for itself (og:image), with its description and size."""

    url: str
    alt: str = ""
    width: int = 0
    height: int = 0


class _MetaReader(HTMLParser):
    """The <meta property|name=... content=...> pairs of a page's head."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            raise _Done
        if tag != "meta":
            return
        values = {k.lower(): (v or "") for k, v in attrs}
        key = (values.get("property") or values.get("name") or "").lower()
        if key and "content" in values:
            self.meta.setdefault(key, values["content"].strip())


class _Done(Exception):
    """The head is over."""


def page_image(html: str) -> PageImage | None:
    """og:image (or twitter:image) of a full page, with og:image:alt and its size."""
    reader = _MetaReader()
    with contextlib.suppress(_Done):  # stop at <body>: the head is all it needs
        reader.feed(html[:200_000])
    meta = reader.meta
    url = meta.get("og:image:secure_url") or meta.get("og:image") or meta.get("twitter:image")
    if not url:
        return None
    alt = meta.get("og:image:alt") or meta.get("twitter:image:alt") or ""
    return PageImage(
        url,
        " ".join(alt.split()),
        pixels(meta.get("og:image:width")),
        pixels(meta.get("og:image:height")),
    )


def pixels(value: object) -> int:
    """A stated size in pixels, or 0 when it is missing or not a plausible number."""
    text = str(value or "").strip().lower().removesuffix("px")
    return int(text) if text.isdigit() and 0 < int(text) < 100_000 else 0


def is_picture_media(url: str, kind: str) -> bool:
    """Whether a Media RSS item or an enclosure is a picture: its medium or MIME type
    says so, or, with neither, its address does not name a video, a sound or a file."""
    kind = kind.strip().lower()
    if kind:
        return kind == "image" or kind.startswith("image/")
    return bool(url) and not _NOT_A_PICTURE.search(url)


def looks_like_picture_file(url: str) -> bool:
    """An enclosure without a type whose address ends like a picture file."""
    return bool(_PICTURE_FILE.search(url))


# Decoration by the name of its folder or file: icons, emoji, avatars, buttons, logos,
# spacers, badges, sprites and forum theme images are never a picture of the story.
_DECORATION = re.compile(
    r"(?:^|[/_.-])(?:icons?|emoji|emoticons?|smil(?:ey|ies)|avatars?|buttons?|logos?|"
    r"spacer|pixel|badges?|sprites?|style_images|share|social|feedflare|~ff|"
    r"file-?types?|mime-?types?|mimes?|ext-?icons?)(?:[/_.-]|$)",
    re.I,
)
# A file named after a file type ("filetype/jpg.gif", "pdf.png"): the icon of an
# attachment, not the attachment.
_TYPE_ICON = re.compile(
    r"(?:^|/)(?:jpe?g|png|gif|bmp|webp|tiff?|pdf|docx?|xlsx?|pptx?|odt|zip|rar|7z|txt|"
    r"mp[34]|mov|avi|wav|flac)\.(?:gif|png|svg|ico)$",
    re.I,
)


def is_decoration(url: str) -> bool:
    """True for an image that is decoration by its address: an icon, emoji, avatar,
    button, logo, spacer, badge, sprite, a forum's theme image or a file-type icon."""
    path = urlsplit(url).path
    return bool(_DECORATION.search(path) or _TYPE_ICON.search(path))


# Stated lower than this, an image is a strip (a divider, a banner), not a picture.
_STRIP_HEIGHT = 40
# A picture opens the article: at most a headline's worth of text comes before it.
_OPENING_CHARS = 120
# Stated this wide or wider, a picture fills most of the column.
_FULL_PICTURE = 300


class _ImgReader(HTMLParser):
    """The <img> tags that open a fragment, with their stated sizes, alt text and the
    link around them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[PageImage, str]] = []  # (image, the link's href)
        self.text = 0  # letters and digits of text so far
        self._links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        if tag == "a":
            self._links.append(values.get("href", ""))
        if tag != "img" or len(self.found) >= 10:
            return
        src = values.get("src", "").strip()
        width = pixels(values.get("width"))
        if not src or src.startswith("data:"):
            return
        if self.text > _OPENING_CHARS and width < _FULL_PICTURE:
            return  # further down, only a picture stated to be large is the story's
        image = PageImage(
            src, " ".join(values.get("alt", "").split()), width, pixels(values.get("height"))
        )
        self.found.append((image, self._links[-1] if self._links else ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._links:
            self._links.pop()

    def handle_data(self, data: str) -> None:
        self.text += sum(1 for c in data if c.isalnum())


def body_images(html: str, site: str = "") -> list[PageImage]:
    """The pictures of an article's HTML, addresses as written: those that open it
    (before more than a headline's worth of text) and, further down, those stated to be
    large; never decoration (icons, emoji, share buttons, by their names) nor a picture
    linking away from ``site`` (an ad, a share button)."""
    reader = _ImgReader()
    with contextlib.suppress(AssertionError, ValueError):
        reader.feed(html[:500_000])
    return [
        image
        for image, link in reader.found
        if not is_decoration(image.url)
        and not (site and link.startswith("http") and registered_site(link) != site)
    ]


def registered_site(url: str) -> str:
    """The last two labels of a URL's host: "washingtonpost.com", "pheedo.com"."""
    host = (urlsplit(url).hostname or "").lower()
    return ".".join(host.split(".")[-2:])


def best_image(candidates: Iterable[PageImage]) -> PageImage:
    """The best picture among ``candidates`` (in the source's order of preference): the
    largest stated to be at least 300 px wide, else the first of unknown size, else the
    largest thumbnail; never an icon, an avatar or a tracking pixel (stated narrower
    than `PICTURE_MIN_WIDTH`), a strip (a divider or a banner, stated lower than 40 px)
    nor decoration by its address (`is_decoration`)."""
    usable = [
        c
        for c in candidates
        if c.url
        and not (0 < c.width < PICTURE_MIN_WIDTH)
        and not (0 < c.height < _STRIP_HEIGHT)
        and not is_decoration(c.url)
    ]
    large = [c for c in usable if c.width >= _FULL_PICTURE]
    unknown = [c for c in usable if not c.width]
    small = [c for c in usable if 0 < c.width < _FULL_PICTURE]
    if large or not unknown:
        return max(large or small, key=_area, default=PageImage(""))
    return unknown[0]


def _area(image: PageImage) -> tuple[int, int]:
    return image.width * max(image.height, 1), image.width


# ---------------------------------------------------------------- alt text

# Words that describe no picture: what a CMS writes when nobody wrote an alt.
_PLACEHOLDER_ALTS = frozenset(
    {
        "alt",
        "alt-text",
        "image",
        "img",
        "photo",
        "photograph",
        "picture",
        "pic",
        "thumbnail",
        "thumb",
        "untitled",
        "placeholder",
        "null",
        "none",
        "undefined",
        "default",
        "featured",
        "featured-image",
        "image-description",
        "banner",
        "header",
        "hero",
        "cover",
        "attachment",
        "media",
        "file",
        "foto",
        "fotografia",
        "imagem",
        "imagen",
        "immagine",
        "bild",
        "afbeelding",
        "photo-credit",
        "画像",
        "写真",
        "图片",
        "图像",
        "照片",
        "صورة",
        "תמונה",
    }
)
# A camera's or an uploader's file name: "IMG_1234.jpg", "DSC00012", "photo-3.png".
_FILE_NAME = re.compile(
    r"^(?:[\w.-]+\.(?:jpe?g|png|gif|webp|avif|svg|bmp|tiff?|heic)|"
    r"(?:img|dsc|dscn|dscf|pxl|image|photo|screenshot|screen-shot|capture)[\w-]*\d[\w-]*)$",
    re.I,
)


def _words(text: str) -> list[str]:
    """The letters and digits of ``text`` as lower-case words (any script)."""
    kept = "".join(
        c if unicodedata.category(c)[0] in "LNM" else " "
        for c in unicodedata.normalize("NFKC", text).casefold()
    )
    return kept.split()


def meaningful_alt(alt: str, title: str, url: str = "") -> str:
    """``alt`` when it describes the picture; "" (a decorative image, which a screen
    reader skips) when it says nothing: a placeholder ("alt", "image", "photo"), a file
    name or the picture's own address, no letters at all, or the headline beside it
    again (whole, or a part of it: the reader has just heard it)."""
    text = " ".join(alt.split())
    words = _words(text)
    if not words:
        return ""
    joined = "-".join(words)
    if joined in _PLACEHOLDER_ALTS or _FILE_NAME.match(text) or _FILE_NAME.match(joined):
        return ""
    if text.lower().startswith(("http://", "https://", "www.")):
        return ""
    stem = urlsplit(url).path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    if stem and joined == "-".join(_words(stem)):
        return ""
    headline = "-".join(_words(title))
    if headline and (joined == headline or f"-{joined}-" in f"-{headline}-"):
        return ""
    return text


# ---------------------------------------------------------------- a picture's own size

# Enough of a file to find its size: JPEG may carry a large EXIF block before its frame.
PROBE_BYTES = 64 * 1024
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def image_size(head: bytes) -> tuple[int, int]:
    """(width, height) read from the first bytes of a PNG, GIF, WebP or JPEG file;
    (0, 0) for anything else or too little of it."""
    try:
        if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
            return _sane(int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big"))
        if head[:6] in (b"GIF87a", b"GIF89a"):
            return _sane(int.from_bytes(head[6:8], "little"), int.from_bytes(head[8:10], "little"))
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            return _webp(head)
        if head[:2] == b"\xff\xd8":
            return _jpeg(head)
    except IndexError:
        pass
    return 0, 0


def _webp(head: bytes) -> tuple[int, int]:
    chunk = head[12:16]
    if chunk == b"VP8X":
        width = int.from_bytes(head[24:27], "little") + 1
        return _sane(width, int.from_bytes(head[27:30], "little") + 1)
    if chunk == b"VP8L" and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return _sane((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
        width = int.from_bytes(head[26:28], "little") & 0x3FFF
        return _sane(width, int.from_bytes(head[28:30], "little") & 0x3FFF)
    return 0, 0


def _jpeg(head: bytes) -> tuple[int, int]:
    at = 2
    while at + 9 < len(head):
        if head[at] != 0xFF:
            return 0, 0
        marker = head[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            at += 2
            continue
        length = int.from_bytes(head[at + 2 : at + 4], "big")
        if marker in _JPEG_FRAMES:
            height = int.from_bytes(head[at + 5 : at + 7], "big")
            return _sane(int.from_bytes(head[at + 7 : at + 9], "big"), height)
        at += 2 + length
    return 0, 0


def _sane(width: int, height: int) -> tuple[int, int]:
    return (width, height) if 0 < width < 100_000 and 0 < height < 100_000 else (0, 0)
