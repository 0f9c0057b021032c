"""`digest init`: a new publication's configuration, the store, and with `--demo` the
example publication's configuration and a week of sample articles and readers from the
packaged demo file (`config/demo.json`), dated inside the most recent complete week so
that `send` right after has an edition.

A new publication's file is written from the declared settings (`config.declared_settings`),
so it holds exactly the defaults the README's table lists, each with what it does: no
sections, topics, sponsors or timezone of anyone else.
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from digest import store
from digest.config import (
    ENV_PREFIX,
    OTHER_SECRETS,
    SPONSORS_DOC,
    TOPICS_DOC,
    Config,
    declared_settings,
    section_doc,
)
from digest.content.weeks import last_complete_week
from digest.models import Article
from digest.readers.subscribers import save_subscriber
from digest.resources import PLACEHOLDER, default_config_text, demo_data

# What `init` cannot know: `send` refuses to go out while one is left.
_PLACEHOLDERS = {
    ("newsletter", "name"): f"{PLACEHOLDER}: your newsletter's name",
    ("newsletter", "from"): f"{PLACEHOLDER} <news@change-me.example>",
    ("newsletter", "base_url"): "https://change-me.example/digest",
    ("newsletter", "postal_address"): (
        f"{PLACEHOLDER}: your postal address (bulk mail must carry it)"
    ),
}
# The settings a new publication must look at before its first send.
MUST_LOOK_AT = {
    ("newsletter", "name"),
    ("newsletter", "from"),
    ("newsletter", "base_url"),
    ("newsletter", "timezone"),
    ("newsletter", "postal_address"),
    ("newsletter", "language"),
    ("smtp", "host"),
    ("smtp", "port"),
    ("smtp", "tls"),
    ("smtp", "username"),
    ("schedule", "day"),
    ("schedule", "time"),
    ("digest", "section_order"),
}
_HEADER = f"""\
# digest configuration, written by `digest init` for a new publication.
# Paths are relative to this file. Every setting can be overridden from the environment
# as {ENV_PREFIX}<SECTION>_<KEY>, e.g. {ENV_PREFIX}SMTP_HOST=smtp.example.com; secrets come only
# from the environment (listed at the end). Lines marked "SET THIS" are the ones a new
# publication must look at; `send` refuses while a CHANGE-ME value is left. Every other
# line is the default, with what it does: change it or leave it.
"""


def write_config(path: Path, *, demo: bool) -> bool:
    """Write the config file at ``path`` unless one is there; True if written. With
    ``demo`` the example publication's, else a new publication's (`new_config_text`)."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(default_config_text() if demo else new_config_text(), encoding="utf-8")
    return True


def new_config_text() -> str:
    """A new publication's configuration: every declared setting at its default, with
    what it does, the values only the publication knows as CHANGE-ME, and empty
    [topics] and [sponsors] tables."""
    lines = [_HEADER.rstrip("\n")]
    section = ""
    secrets = [f"#   {name}: {doc}" for name, doc in OTHER_SECRETS.items()]
    for d in declared_settings():
        if d.rule.secret:
            secrets.append(f"#   {ENV_PREFIX}{d.section.upper()}_{d.key.upper()}: {d.rule.doc}")
            continue
        if d.section != section:
            section = d.section
            lines += ["", f"[{section}]", f"# {section_doc(section)}"]
        value = _PLACEHOLDERS.get((d.section, d.key), d.default)
        mark = "SET THIS: " if (d.section, d.key) in MUST_LOOK_AT else ""
        lines.append(f"{d.key} = {toml_value(value)}  # {mark}{d.rule.doc}")
    lines += [
        "",
        "[topics]",
        f"# {TOPICS_DOC.replace('`', '')}; none yet",
        "",
        "[sponsors]",
        f"# {SPONSORS_DOC.replace('`', '')}; none yet",
        "",
        "# Secrets, from the environment only:",
        *secrets,
        "",
    ]
    return "\n".join(lines)


def toml_value(value: Any) -> str:
    """A default as TOML spells it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string
    if isinstance(value, tuple | list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for the default {value!r}")


def demo_articles(
    config: Config, now: datetime, data: dict[str, Any] | None = None
) -> list[Article]:
    """The demo articles, dated inside the last complete week before ``now``."""
    data = data or demo_data()
    monday = last_complete_week(now, config.tz).start.date()
    articles = []
    for a in data["articles"]:
        local = datetime.combine(monday + timedelta(days=a["day"]), time(a["hour"]), config.tz)
        articles.append(
            Article(
                id=0,
                url=f"{data['site']}/{local:%Y/%m}/{a['slug']}",
                title=a["title"],
                published_at=local,
                body="".join(f"<p>{p}</p>\n" for p in a["paragraphs"]),
                author=a["author"],
                topics=tuple(a["topics"]),
                featured=a["featured"],
                score=a["score"],
            )
        )
    return articles


def load_demo(config: Config, db: Database, now: datetime) -> tuple[int, int]:
    """Load the demo articles and readers; how many of each were added."""
    data = demo_data()
    added = sum(
        store.upsert_article(db, a, now) == "added" for a in demo_articles(config, now, data)
    )
    readers = sum(
        save_subscriber(db, r["email"], r["name"], r["topics"], now) == "added"
        for r in data["subscribers"]
    )
    return added, readers
