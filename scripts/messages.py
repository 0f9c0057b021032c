"""`make messages`: extract the words digest writes to readers and merge them into the
catalogues.

The templates' words (``_()``, ``ngettext()``) and the Python ones (``gettext``,
``ngettext``) go to ``digest/locale/digest.pot``; each catalogue under
``digest/locale/<language>/LC_MESSAGES/digest.po`` gains the new messages (empty, for
a translator) and loses the ones no longer used. `tests/test_language.py` holds every
catalogue to the sources. ``--check`` changes nothing and exits 1 when a catalogue is
behind.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

REPO = Path(__file__).resolve().parent.parent
LOCALE = REPO / "digest" / "locale"
# `_named` is notices.py's gettext with the newsletter's name put in.
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_named": None}
SOURCES = [
    (REPO / "templates", [("email/**.j2", "jinja2")], {"extensions": "jinja2.ext.i18n"}),
    (REPO / "digest", [("**.py", "python")], {}),
]


def template() -> Catalog:
    """Every message the sources use, with where each is used."""
    catalog = Catalog(
        project="digest",
        domain="digest",
        charset="utf-8",
        copyright_holder="the digest authors",
        msgid_bugs_address="",
    )
    for folder, method_map, options in SOURCES:
        option_map = {pattern: options for pattern, _ in method_map}
        for filename, line, message, comments, _ in extract_from_dir(
            folder, method_map, option_map, keywords=KEYWORDS
        ):
            where = f"{folder.relative_to(REPO)}/{filename}"
            catalog.add(message, locations=[(where, line)], auto_comments=comments)
    return catalog


def _text(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_po(out, catalog, width=88, omit_header=False, sort_output=True)
    return out.getvalue()


def merged(po: Path, pot: Catalog) -> bytes:
    """A catalogue brought up to the template's messages."""
    with po.open("rb") as f:
        catalog = read_po(f, locale=po.parent.parent.name, domain="digest")
    catalog.update(pot, no_fuzzy_matching=True)
    catalog.obsolete.clear()
    return _text(catalog)


def main(check: bool) -> int:
    pot = template()
    behind = []
    outputs = {LOCALE / "digest.pot": _text(pot)}
    for po in sorted(LOCALE.glob("*/LC_MESSAGES/digest.po")):
        outputs[po] = merged(po, pot)
    for path, data in outputs.items():
        if _body(path.read_bytes() if path.exists() else b"") != _body(data):
            behind.append(path.relative_to(REPO))
            if not check:
                path.write_bytes(data)
    for path in behind:
        print(f"{'behind' if check else 'updated'}: {path}")
    return 1 if check and behind else 0


def _body(po: bytes) -> bytes:
    """A catalogue's messages and translations: without its header entry (dated by the
    day and year it was written, and by the Babel that wrote it) and the places each
    message is used (they move with every edit of a template)."""
    entries = po.replace(b"\r\n", b"\n").split(b"\n\n")
    if entries and b'msgid ""\nmsgstr ""' in entries[0]:
        entries = entries[1:]
    return b"\n\n".join(
        b"\n".join(line for line in entry.splitlines() if not line.startswith(b"#:"))
        for entry in entries
    )


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv))
