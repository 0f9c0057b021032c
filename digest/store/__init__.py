"""The SQLite store, one module per aggregate; every SQL query lives in this package.

    schema        the migrations (sqlite-utils), applied on every open
    columns       UTC text times and plain inserts
    articles      articles and topics
    subscribers   subscribers and their events (the consent record)
    editions      frozen editions, variants, per-shard send locks
    deliveries    the delivery ledger
    feeds         configured feeds
    approvals     held editions
    signups       requests to join, until confirmed or expired
    notes         the editor's note of each week
    picks         the editor's choice of each week's lead
    imports       a list import's people, staged while its file is read
    suppressions  keyed hashes of erased readers' mailboxes
    webhooks      provider webhook events already taken
    apitokens     API tokens (their hashes and scopes)
    hooks         webhooks out: endpoints and the events each change writes
    staff         the desk: staff accounts, sessions, links, passkeys, failed logins,
                  the audit log (append-only), the returns log

Policy (who counts as "kept", when a lock may be taken over) lives with the use case
that needs it; this package only reads and writes rows.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from sqlite_utils import Database

from digest.errors import StoreError
from digest.store.apitokens import (
    TokenRow,
    all_tokens,
    delete_token,
    insert_token,
    mark_token_used,
    token_by_hash,
    token_named,
)
from digest.store.approvals import approval, approve, request_approval
from digest.store.articles import (
    all_articles,
    all_topics,
    article_by_key,
    content_hash,
    newest_published_before,
    picture_sizes,
    published_articles,
    published_at_of,
    upsert_article,
)
from digest.store.columns import from_db_time, to_db_time, transaction, writes
from digest.store.deliveries import (
    OpenDelivery,
    accepted_by_domain,
    delivery_counts,
    delivery_for_provider_id,
    delivery_status,
    open_deliveries,
    open_delivery_count,
    open_delivery_counts_by_shard,
    record_deliveries,
    record_delivery,
    skipped_deliveries,
    undelivered_reasons,
)
from digest.store.editions import (
    EditionRow,
    close_variant_stage,
    edition_before,
    edition_locks,
    edition_variant,
    edition_variant_keys,
    edition_variants,
    freeze_edition,
    get_edition,
    held_locks,
    insert_lock,
    list_editions,
    lock_holder,
    mark_edition_sent,
    open_variant_stage,
    release_lock,
    renew_lock,
    stage_variant,
    staged_variants,
    swap_lock_holder,
)
from digest.store.feeds import FeedRow, add_feed, list_feeds, record_feed_fetch, remove_feed
from digest.store.hooks import (
    Endpoint,
    HookEvent,
    advance,
    delete_endpoint,
    enable_endpoint,
    endpoint,
    endpoints,
    failed_attempt,
    hook_events_waiting,
    insert_endpoint,
    next_event,
    prune_hook_events,
    record_hook_event,
    release_lease,
    rotate_secret,
    take_lease,
)
from digest.store.imports import (
    close_stage,
    open_stage,
    stage,
    staged,
    staged_people,
    staged_states,
)
from digest.store.notes import clear_note, get_note, set_note
from digest.store.outgoing import (
    QueuedEmail,
    email_state,
    outgoing_counts,
    queue_email,
    queued_emails,
    record_email,
)
from digest.store.picks import set_pick, week_picks
from digest.store.schema import migrations
from digest.store.signups import (
    SignupRow,
    add_signup,
    emails_sent_since,
    expired_pending,
    first_previous_status,
    get_signup,
    mark_confirmed,
    newer_signup,
    signups_from_client_since,
)
from digest.store.subscribers import (
    RETURN_EVENTS,
    SIGNS_OF_LIFE,
    SUNSET_ASKED,
    SunsetFacts,
    active_choice_counts,
    active_topic_choices,
    active_with_choices,
    add_event,
    ask_of,
    bounce_subscribers,
    change_subscriber,
    count_with_status,
    delete_subscriber,
    delete_subscriber_by_id,
    event_of,
    get_subscriber,
    get_subscriber_by_id,
    insert_subscriber,
    iter_subscribers,
    last_event_at,
    left_by_complaint,
    return_counts_by_edition,
    return_counts_by_subscriber,
    returned_by_domain,
    set_event_detail,
    set_subscriber_status,
    soft_bounce_editions,
    soft_bounced_in,
    status_changed_since,
    subscriber_events,
    subscriber_status,
    subscribers_changed_after,
    subscribers_of_mailbox,
    subscribers_with_returns,
    sunset_facts,
    sunset_marks,
    topics_key,
    update_profile,
)
from digest.store.suppressions import is_suppressed, suppress, suppression_count, unsuppress
from digest.store.webhooks import take_webhook_event

__all__ = [
    "RETURN_EVENTS",
    "SIGNS_OF_LIFE",
    "SUNSET_ASKED",
    "EditionRow",
    "Endpoint",
    "FeedRow",
    "HookEvent",
    "OpenDelivery",
    "QueuedEmail",
    "SignupRow",
    "SunsetFacts",
    "TokenRow",
    "accepted_by_domain",
    "active_choice_counts",
    "active_topic_choices",
    "active_with_choices",
    "add_event",
    "add_feed",
    "add_signup",
    "advance",
    "all_articles",
    "all_tokens",
    "all_topics",
    "approval",
    "approve",
    "article_by_key",
    "ask_of",
    "bounce_subscribers",
    "change_subscriber",
    "clear_note",
    "close_stage",
    "close_variant_stage",
    "content_hash",
    "count_with_status",
    "delete_endpoint",
    "delete_subscriber",
    "delete_subscriber_by_id",
    "delete_token",
    "delivery_counts",
    "delivery_for_provider_id",
    "delivery_status",
    "edition_before",
    "edition_locks",
    "edition_variant",
    "edition_variant_keys",
    "edition_variants",
    "email_state",
    "emails_sent_since",
    "enable_endpoint",
    "endpoint",
    "endpoints",
    "event_of",
    "expired_pending",
    "failed_attempt",
    "first_previous_status",
    "freeze_edition",
    "from_db_time",
    "get_edition",
    "get_note",
    "get_signup",
    "get_subscriber",
    "get_subscriber_by_id",
    "held_locks",
    "hook_events_waiting",
    "insert_endpoint",
    "insert_lock",
    "insert_subscriber",
    "insert_token",
    "is_suppressed",
    "iter_subscribers",
    "last_event_at",
    "left_by_complaint",
    "list_editions",
    "list_feeds",
    "lock_holder",
    "mark_confirmed",
    "mark_edition_sent",
    "mark_token_used",
    "newer_signup",
    "newest_published_before",
    "next_event",
    "open_deliveries",
    "open_delivery_count",
    "open_delivery_counts_by_shard",
    "open_stage",
    "open_store",
    "open_variant_stage",
    "outgoing_counts",
    "picture_sizes",
    "prune_hook_events",
    "published_articles",
    "published_at_of",
    "queue_email",
    "queued_emails",
    "record_deliveries",
    "record_delivery",
    "record_email",
    "record_feed_fetch",
    "record_hook_event",
    "release_lease",
    "release_lock",
    "remove_feed",
    "renew_lock",
    "request_approval",
    "return_counts_by_edition",
    "return_counts_by_subscriber",
    "returned_by_domain",
    "rotate_secret",
    "set_event_detail",
    "set_note",
    "set_pick",
    "set_subscriber_status",
    "signups_from_client_since",
    "skipped_deliveries",
    "soft_bounce_editions",
    "soft_bounced_in",
    "stage",
    "stage_variant",
    "staged",
    "staged_people",
    "staged_states",
    "staged_variants",
    "status_changed_since",
    "subscriber_events",
    "subscriber_status",
    "subscribers_changed_after",
    "subscribers_of_mailbox",
    "subscribers_with_returns",
    "sunset_facts",
    "sunset_marks",
    "suppress",
    "suppression_count",
    "swap_lock_holder",
    "take_lease",
    "take_webhook_event",
    "to_db_time",
    "token_by_hash",
    "token_named",
    "topics_key",
    "transaction",
    "undelivered_reasons",
    "unsuppress",
    "update_profile",
    "upsert_article",
    "week_picks",
    "writes",
]


def open_store(path: Path, *, any_thread: bool = False) -> Database:
    """Open (creating if needed) the store at ``path`` and bring its schema up to date.
    StoreError for a store on a network filesystem (`network_filesystem`). With
    ``any_thread`` the connection may be used by another thread than the one that opened
    it (never by two at once: the caller sees to that)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _refuse_a_network_filesystem(path)
        conn = sqlite3.connect(str(path), timeout=30, check_same_thread=not any_thread)
        db = Database(conn)
        db.enable_wal()
        db.execute("PRAGMA synchronous = NORMAL")
        # Off while migrating: a table rebuild must not cascade into the rows that
        # reference it. Checked afterwards, then on for good.
        db.execute("PRAGMA foreign_keys = OFF")
        applied = _applied(db)
        migrations.apply(db)
        if _applied(db) != applied:
            _check_foreign_keys(db, path)
        db.execute("PRAGMA foreign_keys = ON")
    except (sqlite3.Error, OSError) as e:
        raise StoreError(
            f"Cannot open the store at {path}: {e}. Check [store] path in the config "
            "and that the folder is writable."
        ) from e
    return db


MOUNTINFO = Path("/proc/self/mountinfo")  # Linux: every mount this process sees
# Filesystems where SQLite's write-ahead log (shared memory between the processes of
# one host) and its locks (POSIX advisory locks) do not hold between machines.
NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "sshfs", "9p", "afs",
        "ncpfs", "ceph", "glusterfs", "fuse.glusterfs", "lustre", "gpfs", "fuse.s3fs",
        "fuse.rclone", "fuse.davfs2", "davfs", "fuse.gcsfuse", "beegfs",
    }
)  # fmt: skip


def network_filesystem(path: Path, mountinfo: str) -> str:
    """The type of the network filesystem ``path`` lies on, by the mount that holds it
    in ``mountinfo`` (the text of /proc/self/mountinfo); "" for a local one."""
    target = str(path)
    best, kind = "", ""
    for line in mountinfo.splitlines():
        fields, sep, rest = line.partition(" - ")
        parts = fields.split(" ")
        if not sep or len(parts) < 5 or not rest:
            continue
        point = _unescape_mount(parts[4])
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, rest.split(" ", 1)[0]
    return kind if kind in NETWORK_FILESYSTEMS else ""


def _unescape_mount(text: str) -> str:
    """mountinfo's octal escapes (``\\040`` for a space) undone."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def _refuse_a_network_filesystem(path: Path) -> None:
    try:
        mountinfo = MOUNTINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return  # not Linux, or no /proc: nothing to tell by
    kind = network_filesystem(path.parent.resolve() / path.name, mountinfo)
    if kind:
        raise StoreError(
            f"The store at {path} is on a network filesystem ({kind}). SQLite's write-ahead "
            "log needs memory shared between the processes of one machine, and its locks "
            "do not hold across machines there: two senders could both send, and the "
            "ledger could be torn. Put [store] path on a local disk; to send from more "
            "than one process use `send --workers N` on that machine, and to deliver "
            "more, several relays or a provider's API (see Running at scale)."
        )


def _check_foreign_keys(db: Database, path: Path) -> None:
    broken = list(db.execute("PRAGMA foreign_key_check").fetchall())
    if broken:
        raise StoreError(
            f"The store at {path} has {len(broken)} rows that point at missing rows "
            f"(first: {broken[0]}). Restore it from a backup, or report this as a bug."
        )


def _applied(db: Database) -> int:
    table = db.table("_sqlite_migrations")
    return table.count if table.exists() else 0
