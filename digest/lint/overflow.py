"""Does the email fit a phone? It is drawn in headless Chromium at 375 px, images and
the network shut off, and what sticks out past the right edge is named.

Chromium is optional: Debian's ``chromium`` package (or any Chrome) driven by
Playwright (``pip install 'digest[browser]'``; no browser download needed). Without
them `digest lint` says the measurement was skipped; `checks.long_words` still finds
the common cause without a browser.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

PHONE_WIDTH = 375
_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")
_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The deepest elements whose right edge passes the viewport, described for a person.
_STICKING_OUT = """(width) => {
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.right <= width + 1 || box.width === 0) continue;
    if ([...el.children].some(c => c.getBoundingClientRect().right > width + 1)) continue;
    const text = (el.innerText || el.getAttribute('src') || el.tagName).trim();
    out.push(`${el.tagName.toLowerCase()} ${Math.round(box.right)} px: ${text.slice(0, 60)}`);
    if (out.length >= 5) break;
  }
  return out;
}"""


@dataclass(frozen=True)
class Fit:
    """How wide a page is drawn at a phone's width, and what sticks out."""

    width: int
    scroll_width: int
    sticking_out: tuple[str, ...]

    @property
    def overflows(self) -> bool:
        """True when the reader would have to scroll sideways."""
        return self.scroll_width > self.width


def chromium_path() -> str | None:
    """The Chromium to drive: $DIGEST_CHROMIUM, else the first on the PATH."""
    named = os.environ.get("DIGEST_CHROMIUM", "")
    if named:
        return named
    return next((p for p in map(shutil.which, _CANDIDATES) if p), None)


def measure(pages: list[str], width: int = PHONE_WIDTH) -> list[Fit] | None:
    """Each page drawn ``width`` px wide, in one browser; None when Chromium or
    Playwright is missing or the browser would not start."""
    executable = chromium_path()
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        return None
    if executable is None:
        return None
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=executable, args=_FLAGS)
            try:
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.route("**/*", lambda route: route.abort())  # no images, no network
                fits = []
                for html in pages:
                    page.set_content(html, wait_until="load")  # blocked images laid out
                    scroll = int(page.evaluate("document.documentElement.scrollWidth"))
                    out = page.evaluate(_STICKING_OUT, width) if scroll > width else []
                    fits.append(Fit(width, scroll, tuple(str(o) for o in out)))
            finally:
                browser.close()
    except Error:
        return None
    return fits
