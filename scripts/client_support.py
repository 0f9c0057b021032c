"""Rebuild digest/lint/client_support.json from caniemail.com's data.

    python scripts/client_support.py [../shared/testdata/caniemail.json]

Keeps the CSS and HTML features that at least one of Gmail, Outlook for Windows,
Apple Mail and Yahoo does not fully support, with each client's verdict, and names the
source. Installed users have no ../shared, so the compact table ships in the package.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

CLIENTS = ("gmail", "outlook_windows", "apple_mail", "yahoo")
REPO = Path(__file__).resolve().parent.parent


def build(source: dict) -> dict:
    """The compact table: slug -> {title, client: verdict} for the features that matter."""
    about = source["_about"]
    table: dict = {
        "_source": f"caniemail.com ({about['repo']} at {about['commit'][:12]}), {about['license']}",
        "_clients": {
            "gmail": "Gmail",
            "outlook_windows": "Outlook for Windows",
            "apple_mail": "Apple Mail",
            "yahoo": "Yahoo Mail",
        },
        "features": {},
    }
    for feature in source["features"]:
        if feature["category"] not in ("css", "html"):
            continue
        verdicts = {c: feature.get(c, {}).get("verdict", "unknown") for c in CLIENTS}
        if all(v == "yes" for v in verdicts.values()):
            continue
        table["features"][feature["slug"]] = {"title": feature["title"], **verdicts}
    return table


def main() -> None:
    path = (
        Path(sys.argv[1]) if len(sys.argv) > 1 else REPO.parent / "shared/testdata/caniemail.json"
    )
    table = build(json.loads(path.read_text()))
    out = REPO / "digest" / "lint" / "client_support.json"
    out.write_text(json.dumps(table, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    print(f"{len(table['features'])} features written to {out}")


if __name__ == "__main__":
    main()
