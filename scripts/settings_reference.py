"""Rewrite the manual's settings and secrets tables from digest's own declarations.

    python scripts/settings_reference.py     (or: make docs)

tests/test_docs.py fails when docs/configuration.md and the declarations differ.
"""

from __future__ import annotations

import re
from pathlib import Path

from digest.config import settings_reference

README = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
BLOCK = re.compile(r"(<!-- settings: made by `make docs` -->\n).*?(<!-- /settings -->)", re.S)


def main() -> None:
    text = README.read_text(encoding="utf-8")
    if not BLOCK.search(text):
        raise SystemExit("docs/configuration.md has no settings block to rewrite")
    README.write_text(BLOCK.sub(lambda m: m.group(1) + settings_reference() + m.group(2), text))


if __name__ == "__main__":
    main()
