"""A known edition rendered to a known message; volatile headers stripped.

Regenerate on purpose with UPDATE_GOLDEN=1 and read the diff before committing it.
"""

import os
import re
from pathlib import Path
from typing import Any

from digest import store
from digest.content.weeks import week_window
from digest.delivery.preview import preview_edition

from ..conftest import NOW, make_config
from ..fixtures import load_week

GOLDEN = Path(__file__).parent / "golden"
VOLATILE = re.compile(rb"^(Date|Message-ID): .*\r\n", re.M)


def _normalised(raw: bytes) -> bytes:
    raw = VOLATILE.sub(b"", raw)
    return re.sub(rb"=_digest_[0-9a-f]+", b"=_digest_BOUNDARY", raw)


def test_golden_edition(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        sponsors={
            "DNS": {"name": "Example Registry Services", "url": "https://registry.example.net"}
        },
    )
    db: Any = store.open_store(config.store_path)
    load_week(config, db, NOW)
    reader = store.get_subscriber(db, "chen.wei@example.com")
    result = preview_edition(config, db, week_window("2026-W47", config.tz), reader, NOW)
    assert result is not None
    outputs = {
        "edition.eml": _normalised(result.message),
        "edition.html": result.html.encode(),
        "edition.txt": result.text.encode(),
    }
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        for name, data in outputs.items():
            (GOLDEN / name).write_bytes(data)
    for name, data in outputs.items():
        assert data == (GOLDEN / name).read_bytes(), f"{name} differs; UPDATE_GOLDEN=1 to accept"
