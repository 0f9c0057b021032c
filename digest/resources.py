"""Files that ship with digest: the email and web templates, the default configuration
and the demo week.

In a source checkout they are read from the top-level ``templates/email`` and
``config``; a built wheel carries a copy inside the package (see pyproject.toml).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_PACKAGE = Path(__file__).resolve().parent
_PACKAGED = _PACKAGE / "_data"
_SOURCE_TREE = _PACKAGE.parent


def packaged_templates(kind: str = "email") -> Path:
    """The default templates of ``kind`` (email, web): the wheel's copy, else the source tree's."""
    return _first_existing(_PACKAGED / "templates" / kind, _SOURCE_TREE / "templates" / kind)


def default_config_text() -> str:
    """The text of the default ``digest.toml`` that ``init`` writes."""
    path = _first_existing(_PACKAGED / "digest.toml", _SOURCE_TREE / "config" / "digest.toml")
    return path.read_text(encoding="utf-8")


def demo_data() -> dict[str, Any]:
    """The demo week `init --demo` loads (`config/demo.json`), parsed."""
    path = _first_existing(_PACKAGED / "demo.json", _SOURCE_TREE / "config" / "demo.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _first_existing(*candidates: Path) -> Path:
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise FileNotFoundError(
        f"digest's packaged files are missing (looked in {', '.join(map(str, candidates))}); "
        "reinstall the package."
    )


# Marks a value `init` could not know; `send` refuses to go out while one is left.
PLACEHOLDER = "CHANGE-ME"
