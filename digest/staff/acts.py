"""Each state change and reader lookup, audited: the one library call the CLI command
and the desk's form both make. Each act snapshots what it changes, does it through the
use case that owns it, and appends the audit row (a refusal, a `DigestError`, is
recorded as refused and raised again)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlite_utils import Database

from digest import store
from digest.config import Config
from digest.errors import DigestError, EditionError
from digest.models import Clock
from digest.staff.audit import Actor, record

T = TypeVar("T")


def _audited(
    db: Database,
    now: datetime,
    actor: Actor,
    action: str,
    target: str,
    kind: str,
    snapshot: Callable[[], object],
    act: Callable[[], T],
) -> T:
    before = snapshot()
    try:
        result = act()
    except DigestError as e:
        record(
            db,
            now,
            actor,
            action,
            target,
            kind=kind,
            before=before,
            outcome="refused",
            detail=str(e),
        )
        raise
    record(db, now, actor, action, target, kind=kind, before=before, after=snapshot())
    return result


def _reader_state(db: Database, email: str) -> object:
    found = store.get_subscriber(db, email)
    if found is None:
        return None
    return {
        "email": found.email,
        "name": found.name,
        "status": str(found.status),
        "topics": list(found.topics),
    }


# ---------------------------------------------------------------- readers


def add_reader(
    db: Database, config: Config, actor: Actor, email: str, name: str, topics: str, now: datetime
) -> tuple[str, str]:
    """`subscribers add`, audited."""
    from digest.readers.subscribers import add_subscriber

    return _audited(
        db, now, actor, "reader.add", email.strip(), "reader",
        lambda: _reader_state(db, email.strip()),
        lambda: add_subscriber(db, config, email, name, topics, now),
    )  # fmt: skip


def reactivate_reader(db: Database, actor: Actor, email: str, now: datetime) -> None:
    """`subscribers reactivate`, audited."""
    from digest.readers.subscribers import reactivate_subscriber

    _audited(
        db, now, actor, "reader.reactivate", email, "reader",
        lambda: _reader_state(db, email),
        lambda: reactivate_subscriber(db, email, now),
    )  # fmt: skip


def remove_reader(
    db: Database, config: Config, actor: Actor, email: str, now: datetime, *, forget: bool
) -> None:
    """`subscribers remove [--forget]`, audited (a forgotten reader's row keeps only
    the hash of their state before)."""
    from digest.readers.subscribers import remove_subscriber

    _audited(
        db, now, actor, "reader.forget" if forget else "reader.remove", email, "reader",
        lambda: _reader_state(db, email),
        lambda: remove_subscriber(db, config, email, now, forget=forget),
    )  # fmt: skip


def import_readers(
    db: Database, config: Config, actor: Actor, file: Path, now: datetime, **options: Any
) -> Any:
    """`subscribers import`, audited (the target is the file; a dry run changes
    nothing and is not recorded)."""
    from digest.readers.subscribers import import_subscribers

    if options.get("dry_run"):
        return import_subscribers(db, file, now, config, **options)
    return _audited(
        db, now, actor, "readers.import", file.name, "file",
        lambda: store.active_choice_counts(db),
        lambda: import_subscribers(db, file, now, config, **options),
    )  # fmt: skip


@dataclass(frozen=True)
class ReaderRecord:
    """What a lookup shows: the reader (None: not on the list) and their consent record."""

    email: str
    reader: Any
    events: list[tuple[str, str]]


def look_up_reader(db: Database, actor: Actor, email: str, now: datetime) -> ReaderRecord:
    """A reader lookup by address, recorded whether or not they are on the list."""
    found = store.get_subscriber(db, email.strip())
    events = store.subscriber_events(db, found.id) if found else []
    record(
        db,
        now,
        actor,
        "reader.lookup",
        email.strip(),
        kind="reader",
        detail="found" if found else "not on the list",
    )
    return ReaderRecord(email.strip(), found, events)


# ---------------------------------------------------------------- the edition


def set_note(
    config: Config, db: Database, actor: Actor, week: str | None, now: datetime,
    *, text: str | None = None, file: Path | None = None,
) -> tuple[str, str, str]:  # fmt: skip
    """`digest note`, audited: (week, HTML, text)."""
    from digest.content.edition import coming_week
    from digest.content.notes import set_week_note

    label = coming_week(config, db, week, now).label
    html, plain = _audited(
        db, now, actor, "note.set", label, "week",
        lambda: store.get_note(db, label),
        lambda: set_week_note(db, label, now, text=text, file=file),
    )  # fmt: skip
    return label, html, plain


def clear_note(
    config: Config, db: Database, actor: Actor, week: str | None, now: datetime
) -> tuple[str, bool]:
    """`digest note --clear`, audited: (week, whether there was a note)."""
    from digest.content.edition import coming_week
    from digest.content.notes import clear_week_note

    label = coming_week(config, db, week, now).label
    removed = _audited(
        db, now, actor, "note.clear", label, "week",
        lambda: store.get_note(db, label),
        lambda: clear_week_note(db, label),
    )  # fmt: skip
    return label, removed


def pick_lead(
    config: Config,
    db: Database,
    actor: Actor,
    url: str,
    week: str | None,
    now: datetime,
    *,
    lead: bool,
) -> Any:
    """`articles feature` / `unfeature`, audited (the target: the week and the URL)."""
    from digest.content.edition import coming_week
    from digest.content.edition import pick_lead as pick

    label = coming_week(config, db, week, now).label
    return _audited(
        db, now, actor, "lead.feature" if lead else "lead.unfeature", f"{label} {url}", "article",
        lambda: store.week_picks(db, label),
        lambda: pick(config, db, url, week, now, lead=lead),
    )  # fmt: skip


def edition_digest(config: Config, db: Database, week: str | None, now: datetime) -> str:
    """A hash of the edition as `send` would build it now: every copy's HTML and text
    (frozen copies as frozen). An approval names it, so what was approved is what goes."""
    from digest.content.edition import edition_for_week, resolve_week
    from digest.delivery.preview import preview_variants

    window = resolve_week(config, week, now)
    edition = edition_for_week(config, db, window)
    if edition is None:
        return ""
    digest = hashlib.sha256()
    for copy in preview_variants(config, db, edition, window, now):
        for part in (copy.key, copy.html, copy.text):
            digest.update(part.encode("utf-8") + b"\0")
    return digest.hexdigest()


def approve(
    config: Config,
    db: Database,
    actor: Actor,
    week: str | None,
    clock: Clock,
    *,
    seen: str = "",
    by: str = "",
) -> tuple[str, Any]:
    """`digest approve`, audited. With ``seen`` (the digest the approver was shown), an
    edition that changed since is refused: they approve what they saw or nothing.
    ``by`` is who the approval names (default: the actor)."""
    from digest.approval import approve_week
    from digest.content.edition import resolve_week

    label = resolve_week(config, week, clock()).label
    now = clock()
    current = edition_digest(config, db, week, now) if seen else ""

    def act() -> tuple[str, Any]:
        if seen and current != seen:
            raise EditionError(
                f"The {label} edition changed after you looked at it (you saw {seen[:12]}, it "
                f"is now {current[:12]}): look at it again, send a test copy, then approve."
            )
        return approve_week(config, db, week, by or actor.name, clock)

    return _audited(
        db, now, actor, "edition.approve", label, "week",
        lambda: {"approval": str(store.approval(db, label)), "digest": current or seen},
        act,
    )  # fmt: skip


def hold(
    config: Config, db: Database, actor: Actor, week: str | None, now: datetime
) -> tuple[str, bool]:
    """Hold a week's edition for approval (what `[schedule] hold` does for every week):
    (week, False when it was held already). EditionError once it is frozen."""
    from digest.content.edition import coming_week

    label = coming_week(config, db, week, now).label

    def act() -> bool:
        if store.get_edition(db, label) is not None:
            raise EditionError(f"The {label} edition is frozen already (sent or being sent).")
        return store.request_approval(db, label, now)

    held = _audited(
        db, now, actor, "edition.hold", label, "week",
        lambda: str(store.approval(db, label)),
        act,
    )  # fmt: skip
    return label, held


def send(
    config: Config, db: Database, actor: Actor, week: Any, clock: Clock, **options: Any
) -> Any:
    """`digest send` (and `--resume`), audited with what it delivered; a dry run
    changes nothing and is not recorded."""
    from digest.delivery.sending import send_edition

    if options.get("dry_run"):
        return send_edition(config, db, week, clock, **options)
    now = clock()

    def counts() -> object:
        found = store.get_edition(db, week.label)
        if found is None:
            return None
        return {"status": found.status, **store.delivery_counts(db, found.id)}

    report = _audited(
        db, now, actor, "edition.send", week.label, "week",
        counts,
        lambda: send_edition(config, db, week, clock, **options),
    )  # fmt: skip
    return report


def send_test(
    config: Config, db: Database, actor: Actor, week: str | None, addresses: list[str], clock: Clock
) -> Any:
    """`send --test`, audited (the target: the week; the addresses in the detail)."""
    from digest.content.edition import resolve_week
    from digest.delivery.sending import send_test as send

    window = resolve_week(config, week, clock())
    now = clock()
    return _audited(
        db, now, actor, "edition.test", window.label, "week",
        lambda: edition_digest(config, db, week, now) or None,
        lambda: send(config, db, window, addresses, clock),
    )  # fmt: skip


# ---------------------------------------------------------------- feeds


def add_feed(db: Database, actor: Actor, url: str, topic: str, now: datetime) -> tuple[str, str]:
    """`feeds add`, audited."""
    from digest.content.feeds import add_feed as add

    return _audited(
        db, now, actor, "feed.add", url.strip(), "feed",
        lambda: [f.url for f in store.list_feeds(db)],
        lambda: add(db, url, topic, now),
    )  # fmt: skip


def remove_feed(db: Database, actor: Actor, url: str, now: datetime) -> str:
    """`feeds remove`, audited."""
    from digest.content.feeds import remove_feed as remove

    return _audited(
        db, now, actor, "feed.remove", url.strip(), "feed",
        lambda: [f.url for f in store.list_feeds(db)],
        lambda: remove(db, url),
    )  # fmt: skip
