"""Colours as mail clients see them: the inline styles premailer wrote, resolved up the
tree, and WCAG 2 contrast ratios between text and what it sits on. Pure functions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

AA_NORMAL = 4.5  # WCAG 2 AA for body text
AA_LARGE = 3.0  # for text 24 px and up, or 18.66 px bold
_NAMED = {"white": "#ffffff", "black": "#000000", "transparent": ""}
_HEX = re.compile(r"#([0-9a-f]{3}|[0-9a-f]{6})\b", re.I)
_RGB = re.compile(r"rgba?\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)", re.I)


@dataclass(frozen=True)
class TextColour:
    """One run of visible text, its colour, its background, and whether it is large."""

    text: str
    colour: str
    background: str
    large: bool
    hidden: bool  # display:none, or the like: not shown, so no contrast to check

    @property
    def ratio(self) -> float:
        """The WCAG contrast ratio of the text on its background."""
        return contrast(self.colour, self.background)


def parse_colour(value: str) -> str:
    """'#abc', '#AABBCC', 'rgb(1, 2, 3)', 'white' -> '#aabbcc'; '' when not a colour."""
    value = value.strip().lower().replace("!important", "").strip()
    if value in _NAMED:
        return _NAMED[value]
    found = _HEX.match(value)
    if found:
        digits = found.group(1)
        return "#" + ("".join(c * 2 for c in digits) if len(digits) == 3 else digits).lower()
    rgb = _RGB.match(value)
    if rgb:
        return "#" + "".join(f"{min(255, int(g)):02x}" for g in rgb.groups())
    return ""


def contrast(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio of two '#rrggbb' colours (1 to 21)."""
    light, dark = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def text_colours(page: Any) -> Iterator[TextColour]:
    """Each element's own text with the colours it is shown in."""
    for element in page.iter():
        if not isinstance(element.tag, str) or element.tag in ("style", "script", "title", "head"):
            continue
        own = " ".join((element.text or "").split())
        if not own:
            continue
        yield TextColour(
            own,
            _inherited(element, "color") or "#000000",
            _background(element) or "#ffffff",
            _is_large(element),
            _hidden(element),
        )


def _styles(element: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for declaration in (element.get("style") or "").split(";"):
        name, _, value = declaration.partition(":")
        if value:
            found[name.strip().lower()] = value.strip()
    return found


def _inherited(element: Any, prop: str) -> str:
    while element is not None:
        value = parse_colour(_styles(element).get(prop, ""))
        if value:
            return value
        element = element.getparent()
    return ""


def _background(element: Any) -> str:
    while element is not None:
        styles = _styles(element)
        value = parse_colour(styles.get("background-color", "") or styles.get("background", ""))
        value = value or parse_colour(element.get("bgcolor") or "")
        if value:
            return value
        element = element.getparent()
    return ""


def _is_large(element: Any) -> bool:
    size = bold = None
    node = element
    while node is not None and (size is None or bold is None):
        styles = _styles(node)
        if size is None and "font-size" in styles:
            found = re.match(r"([\d.]+)px", styles["font-size"])
            size = float(found.group(1)) if found else 16.0
        if bold is None and "font-weight" in styles:
            bold = styles["font-weight"] in ("bold", "bolder", "600", "700", "800", "900")
        node = node.getparent()
    pixels = size or 16.0
    heading = element.tag in ("h1", "h2", "h3") and bold is None
    return pixels >= 24 or (pixels >= 18.66 and bool(bold or heading))


def _hidden(element: Any) -> bool:
    node = element
    while node is not None:
        styles = _styles(node)
        if styles.get("display", "").startswith("none") or styles.get("max-height") == "0":
            return True
        if styles.get("opacity", "").strip() in ("0", "0.0"):
            return True
        node = node.getparent()
    return False
