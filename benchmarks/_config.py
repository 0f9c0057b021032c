"""A benchmark's configuration: a small publication in a folder of its own."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def write_config(folder: Path, extra: str = "") -> Path:
    """``folder``/digest.toml for a publication named Bench (UTC, the store
    ``bench.db``, the repository's templates), with ``extra`` TOML after it."""
    path = folder / "digest.toml"
    path.write_text(f"""
[newsletter]
name = "Bench"
from = "Bench <bench@news.example.com>"
base_url = "https://news.example.com/digest"
timezone = "UTC"
postal_address = "100 Example Street"
[store]
path = "bench.db"
[templates]
path = "{REPO / "templates" / "email"}"
{extra}""")
    return path
