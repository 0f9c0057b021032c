"""The store's schema as sqlite-utils migrations, applied in order on every open."""

from __future__ import annotations

import re

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("digest")


@migrations()
def m001_initial(db: Database) -> None:
    """Articles, topics, subscribers, editions and the delivery ledger."""
    for statement in _SCHEMA_V1:
        db.execute(statement)


_SCHEMA_V1 = [
    """CREATE TABLE articles (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,
        guid TEXT NOT NULL DEFAULT '',
        title TEXT NOT NULL,
        body TEXT NOT NULL DEFAULT '',
        excerpt TEXT NOT NULL DEFAULT '',
        author TEXT NOT NULL DEFAULT '',
        published_at TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'published' CHECK (status IN ('published', 'draft')),
        featured INTEGER NOT NULL DEFAULT 0,
        score REAL NOT NULL DEFAULT 0,
        image_url TEXT NOT NULL DEFAULT '',
        content_hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    # The weekly query: published articles in a time window.
    "CREATE INDEX articles_status_published ON articles (status, published_at)",
    "CREATE INDEX articles_guid ON articles (guid) WHERE guid != ''",
    """CREATE TABLE topics (
        id INTEGER PRIMARY KEY,
        slug TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL
    )""",
    """CREATE TABLE article_topics (
        article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        topic_id INTEGER NOT NULL REFERENCES topics (id),
        position INTEGER NOT NULL,
        PRIMARY KEY (article_id, topic_id)
    )""",
    "CREATE INDEX article_topics_topic ON article_topics (topic_id)",
    """CREATE TABLE subscribers (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'active'
            CHECK (status IN ('active', 'unsubscribed', 'bounced')),
        topics TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    "CREATE UNIQUE INDEX subscribers_email ON subscribers (email COLLATE NOCASE)",
    "CREATE INDEX subscribers_status ON subscribers (status, id)",
    """CREATE TABLE editions (
        id INTEGER PRIMARY KEY,
        week TEXT NOT NULL UNIQUE,
        subject TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'frozen' CHECK (status IN ('frozen', 'sent')),
        created_at TEXT NOT NULL,
        finished_at TEXT
    )""",
    # One sender per edition and shard: the row is the lock, with a lease.
    """CREATE TABLE edition_locks (
        edition_id INTEGER NOT NULL REFERENCES editions (id) ON DELETE CASCADE,
        shard TEXT NOT NULL,
        owner TEXT NOT NULL,
        expires TEXT NOT NULL,
        PRIMARY KEY (edition_id, shard)
    )""",
    """CREATE TABLE edition_variants (
        edition_id INTEGER NOT NULL REFERENCES editions (id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        subject TEXT NOT NULL,
        html TEXT NOT NULL,
        text TEXT NOT NULL,
        article_count INTEGER NOT NULL,
        PRIMARY KEY (edition_id, key)
    )""",
    """CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        edition_id INTEGER NOT NULL REFERENCES editions (id) ON DELETE CASCADE,
        subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
        variant TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN
            ('pending', 'sent', 'deferred', 'failed', 'bounced', 'skipped')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        updated_at TEXT NOT NULL,
        UNIQUE (edition_id, subscriber_id)
    )""",
    # The sender walks one edition's open deliveries in subscriber order.
    "CREATE INDEX deliveries_open ON deliveries (edition_id, status, subscriber_id)",
]


@migrations()
def m002_subscriber_events(db: Database) -> None:
    """Who left or changed their choice, when and how: the audit trail for compliance."""
    db.execute(
        """CREATE TABLE subscriber_events (
            id INTEGER PRIMARY KEY,
            subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
            event TEXT NOT NULL,
            source TEXT NOT NULL,
            at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX subscriber_events_subscriber ON subscriber_events (subscriber_id)")


@migrations()
def m003_feeds(db: Database) -> None:
    """The feeds `import --feeds` reads, with their validators and error counts."""
    db.execute(
        """CREATE TABLE feeds (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL UNIQUE,
            topic TEXT NOT NULL DEFAULT '',
            etag TEXT NOT NULL DEFAULT '',
            modified TEXT NOT NULL DEFAULT '',
            last_fetched TEXT,
            last_status TEXT NOT NULL DEFAULT '',
            error_count INTEGER NOT NULL DEFAULT 0,
            last_error TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        )"""
    )


@migrations()
def m004_approvals(db: Database) -> None:
    """Held editions: when the editors got their test copy, and when one approved."""
    db.execute(
        """CREATE TABLE approvals (
            week TEXT PRIMARY KEY,
            requested_at TEXT NOT NULL,
            approved_at TEXT,
            approved_by TEXT NOT NULL DEFAULT ''
        )"""
    )


@migrations()
def m005_subscriber_ids_never_reused(db: Database) -> None:
    """AUTOINCREMENT ids: a forgotten subscriber's id (and so their old links) is never
    given to someone new. The table is rebuilt, as SQLite cannot add AUTOINCREMENT;
    ``open_store`` runs migrations with foreign keys off, so no row elsewhere is touched."""
    db.execute(
        """CREATE TABLE subscribers_new (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            email TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'active'
                CHECK (status IN ('pending', 'active', 'unsubscribed', 'bounced')),
            topics TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )
    db.execute("INSERT INTO subscribers_new SELECT * FROM subscribers")
    db.execute("DROP TABLE subscribers")
    db.execute("ALTER TABLE subscribers_new RENAME TO subscribers")
    db.execute("CREATE UNIQUE INDEX subscribers_email ON subscribers (email COLLATE NOCASE)")
    db.execute("CREATE INDEX subscribers_status ON subscribers (status, id)")


@migrations()
def m006_event_details(db: Database) -> None:
    """What a returned message said (status code, reason) and which edition it was about,
    on each subscriber event: the bounce and complaint record."""
    db.execute("ALTER TABLE subscriber_events ADD COLUMN detail TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE subscriber_events ADD COLUMN edition_id INTEGER")
    db.execute("CREATE INDEX subscriber_events_event ON subscriber_events (event, edition_id)")


@migrations()
def m007_signups(db: Database) -> None:
    """Sign-ups waiting for (or past) their confirmation: what was asked, by whom, when."""
    db.execute(
        """CREATE TABLE signups (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
            email TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '',
            topics TEXT NOT NULL DEFAULT '',
            previous_status TEXT NOT NULL DEFAULT '',
            client TEXT NOT NULL DEFAULT '',
            emailed INTEGER NOT NULL DEFAULT 0,
            requested_at TEXT NOT NULL,
            confirmed_at TEXT
        )"""
    )
    db.execute("CREATE INDEX signups_email ON signups (email COLLATE NOCASE, requested_at)")
    db.execute("CREATE INDEX signups_client ON signups (client, requested_at)")


@migrations()
def m008_article_images(db: Database) -> None:
    """An article image's own description and size, when its source gives them."""
    db.execute("ALTER TABLE articles ADD COLUMN image_alt TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE articles ADD COLUMN image_width INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE articles ADD COLUMN image_height INTEGER NOT NULL DEFAULT 0")


@migrations()
def m009_notes(db: Database) -> None:
    """The editor's note of a week, in Markdown, until the edition is frozen with it."""
    db.execute(
        """CREATE TABLE notes (
            week TEXT PRIMARY KEY,
            markdown TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )


@migrations()
def m010_outgoing(db: Database) -> None:
    """One-off emails waiting for the relay (probes, unsubscribe checks, sign-up mail):
    built when asked for, sent by whoever runs next, retried, reported in `status`."""
    db.execute(
        """CREATE TABLE outgoing (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            subscriber_id INTEGER REFERENCES subscribers (id) ON DELETE CASCADE,
            recipient TEXT NOT NULL,
            sender TEXT NOT NULL DEFAULT '',
            message BLOB NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sent', 'deferred', 'failed', 'bounced')),
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX outgoing_open ON outgoing (status, id)")


@migrations()
def m011_variant_slots(db: Database) -> None:
    """The marker of each rendered variant's per-reader slots (random per render, so no
    content can fill one); "" for variants frozen before, with the fixed slots."""
    db.execute("ALTER TABLE edition_variants ADD COLUMN slots TEXT NOT NULL DEFAULT ''")


@migrations()
def m012_signup_mailbox(db: Database) -> None:
    """Each sign-up's mailbox key (case, +tag and, where the provider ignores them, dots
    folded): the per-address limit counts one person's mailbox, not its spellings."""
    db.execute("ALTER TABLE signups ADD COLUMN mailbox TEXT NOT NULL DEFAULT ''")
    db.execute("UPDATE signups SET mailbox = lower(email)")
    db.execute("CREATE INDEX signups_mailbox ON signups (mailbox, requested_at)")


@migrations()
def m013_picks(db: Database) -> None:
    """An editor's choice of a week's lead (`articles feature`) or against one
    (`articles unfeature`), by article URL: kept apart from the articles, so the next
    import of a feed or a CMS export cannot undo it."""
    db.execute(
        """CREATE TABLE picks (
            week TEXT NOT NULL,
            url TEXT NOT NULL,
            choice TEXT NOT NULL CHECK (choice IN ('feature', 'unfeature')),
            picked_at TEXT NOT NULL,
            PRIMARY KEY (week, url)
        )"""
    )


@migrations()
def m014_provider_ids(db: Database) -> None:
    """The id an email provider's API gave each message (Amazon SES, Mailgun): its
    webhook events name the message by it."""
    db.execute("ALTER TABLE deliveries ADD COLUMN provider_id TEXT NOT NULL DEFAULT ''")
    db.execute(
        "CREATE INDEX deliveries_provider_id ON deliveries (provider_id) WHERE provider_id != ''"
    )


@migrations()
def m015_webhook_events(db: Database) -> None:
    """Webhook deliveries already taken (by the provider's event or signature token): a
    replay changes nothing twice."""
    db.execute(
        """CREATE TABLE webhook_events (
            provider TEXT NOT NULL,
            event_id TEXT NOT NULL,
            received_at TEXT NOT NULL,
            PRIMARY KEY (provider, event_id)
        )"""
    )


@migrations()
def m016_suppressions(db: Database) -> None:
    """Readers erased at their request, kept only as a keyed hash of their mailbox: no
    import or `subscribers add` brings them back; their own confirmed sign-up does."""
    db.execute(
        """CREATE TABLE suppressions (
            hash TEXT PRIMARY KEY,
            reason TEXT NOT NULL,
            created_at TEXT NOT NULL
        )"""
    )


@migrations()
def m017_subscriber_mailbox(db: Database) -> None:
    """Each subscriber's mailbox key (`addresses.mailbox_key`: case, +tag, ignored dots
    and a provider's second domain folded): one person's other spellings are found as
    them, so one who left or was erased does not come back under another."""
    from digest.addresses import mailbox_key

    columns = {c.name for c in db.table("subscribers").columns}
    if "mailbox" not in columns:
        db.execute("ALTER TABLE subscribers ADD COLUMN mailbox TEXT NOT NULL DEFAULT ''")
    rows = db.execute("SELECT id, email FROM subscribers").fetchall()
    db.conn.executemany(
        "UPDATE subscribers SET mailbox = ? WHERE id = ?",
        [(mailbox_key(str(email)), int(sid)) for sid, email in rows],
    )
    db.execute("CREATE INDEX IF NOT EXISTS subscribers_mailbox ON subscribers (mailbox)")


@migrations()
def m018_topic_keys_in_any_script(db: Database) -> None:
    """Topic keys for names in any script (`models.slugify`): a key kept only ASCII, so
    names in Arabic, Chinese or Cyrillic shared one empty key (and "Straße" was
    "strae"). Each topic's key is made again from its name, topics that now share a key
    are merged, readers' and sign-ups' choices follow their topics' new keys, and the
    articles filed under the one empty key are marked changed, so the next import of
    their feed files them under their own categories again."""
    from digest.models import slugify

    renamed: dict[str, str] = {}
    for row in list(db.query("SELECT id, slug, name FROM topics ORDER BY id")):
        new = slugify(row["name"])
        if new == row["slug"]:
            continue
        renamed.setdefault(row["slug"], new)
        if row["slug"] == "":
            db.execute(
                "UPDATE articles SET content_hash = '' WHERE id IN "
                "(SELECT article_id FROM article_topics WHERE topic_id = ?)",
                [row["id"]],
            )
        taken = list(db.query("SELECT id FROM topics WHERE slug = ?", [new]))
        if taken:  # the same key as another name now: one topic
            db.execute(
                "INSERT OR IGNORE INTO article_topics (article_id, topic_id, position) "
                "SELECT article_id, ?, position FROM article_topics WHERE topic_id = ?",
                [taken[0]["id"], row["id"]],
            )
            db.execute("DELETE FROM article_topics WHERE topic_id = ?", [row["id"]])
            db.execute("DELETE FROM topics WHERE id = ?", [row["id"]])
        else:
            db.execute("UPDATE topics SET slug = ? WHERE id = ?", [new, row["id"]])
    for table in ("subscribers", "signups"):
        for row in list(db.query(f"SELECT id, topics FROM {table} WHERE topics != ''")):
            keys = [k for k in row["topics"].split(",") if k]
            moved = ",".join(sorted({slugify(renamed.get(k, k)) for k in keys} - {""}))
            if moved != row["topics"]:
                db.execute(f"UPDATE {table} SET topics = ? WHERE id = ?", [moved, row["id"]])


@migrations()
def m019_article_picture_index(db: Database) -> None:
    """The sizes stored with pictures, found by address: a feed import looks its
    unsized pictures up, and without an index each look-up scans every article."""
    db.execute(
        "CREATE INDEX IF NOT EXISTS articles_sized_pictures ON articles (image_url) "
        "WHERE image_width > 0"
    )


@migrations()
def m020_deliveries_by_variant(db: Database) -> None:
    """A sender walks an edition's deliveries one variant at a time (holding one
    rendered variant, not all): their index by variant, in subscriber order."""
    db.execute(
        "CREATE INDEX IF NOT EXISTS deliveries_variant "
        "ON deliveries (edition_id, variant, subscriber_id)"
    )


@migrations()
def m021_lapsed_status(db: Database) -> None:
    """A reader may be ``lapsed`` (no sign of life, no answer to the re-permission email:
    never mailed). SQLite cannot change a CHECK, so the table is rebuilt from its own
    current definition in sqlite_master: whatever columns, indexes and triggers it has
    by now (another migration may have added some) are kept as they are, and so is its
    AUTOINCREMENT counter (a forgotten reader's id is never given again)."""
    _rebuild_with_status(db, "subscribers", "lapsed")


@migrations()
def m022_api_tokens(db: Database) -> None:
    """API tokens (`digest tokens add`): a name, the scopes, and only the SHA-256 of the
    token itself (shown once, never stored)."""
    db.execute(
        """CREATE TABLE IF NOT EXISTS api_tokens (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            hash TEXT NOT NULL UNIQUE,
            scopes TEXT NOT NULL,
            created_at TEXT NOT NULL,
            last_used_at TEXT NOT NULL DEFAULT ''
        )"""
    )


@migrations()
def m023_webhooks_out(db: Database) -> None:
    """Webhooks out (`digest webhooks add`): the endpoints with their secrets, where
    each is in the stream and which sender holds it (a lease: one sender an endpoint,
    so `serve` and `digest run` at once keep the order), and the events, each written
    in the transaction of the change it reports, its body kept as first signed so every
    retry sends the same bytes."""
    db.execute(
        """CREATE TABLE IF NOT EXISTS hook_endpoints (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL,
            events TEXT NOT NULL,
            secret TEXT NOT NULL,
            old_secret TEXT NOT NULL DEFAULT '',
            old_until TEXT NOT NULL DEFAULT '',
            enabled INTEGER NOT NULL DEFAULT 1,
            disabled_reason TEXT NOT NULL DEFAULT '',
            cursor INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL DEFAULT '',
            last_error TEXT NOT NULL DEFAULT '',
            delivered INTEGER NOT NULL DEFAULT 0,
            lease_holder TEXT NOT NULL DEFAULT '',
            lease_until TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS hook_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            msg_id TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            body TEXT NOT NULL,
            created_at TEXT NOT NULL
        )"""
    )


@migrations()
def m024_subscriber_change_order(db: Database) -> None:
    """Each subscriber's place in the order of changes (`change_seq`), kept by triggers
    on every insert and every change of address, name, topics or status, whatever
    module writes it: the API's sync reads the list from a cursor, not a time (two
    changes in one second, or a clock set back, lose nothing); a reader deleted leaves
    only their id in that order (`subscribers_gone`)."""
    columns = {c.name for c in db.table("subscribers").columns}
    if "change_seq" not in columns:
        db.execute("ALTER TABLE subscribers ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0")
        db.execute("UPDATE subscribers SET change_seq = id")
    db.execute("CREATE INDEX IF NOT EXISTS subscribers_change_seq ON subscribers (change_seq)")
    # One counter that only grows: a reader erased at the top of the order never
    # gives their number to the next change (a cursor past it would miss that one).
    db.execute("CREATE TABLE IF NOT EXISTS subscriber_changes (n INTEGER NOT NULL)")
    if db.execute("SELECT count(*) FROM subscriber_changes").fetchone()[0] == 0:
        db.execute(
            "INSERT INTO subscriber_changes (n) "
            "SELECT coalesce(max(change_seq), 0) FROM subscribers"
        )
    for name, when in (
        ("subscribers_seq_insert", "AFTER INSERT ON subscribers"),
        ("subscribers_seq_update", "AFTER UPDATE OF email, name, topics, status ON subscribers"),
    ):
        db.execute(
            f"""CREATE TRIGGER IF NOT EXISTS {name} {when} BEGIN
                UPDATE subscriber_changes SET n = n + 1;
                UPDATE subscribers SET change_seq = (SELECT n FROM subscriber_changes)
                WHERE id = NEW.id;
            END"""
        )
    # A reader who goes (erased, or a sign-up never confirmed) leaves their id and their
    # place in the order, nothing else: the sync tells a CRM they are gone.
    db.execute(
        """CREATE TABLE IF NOT EXISTS subscribers_gone (
            change_seq INTEGER PRIMARY KEY,
            subscriber_id INTEGER NOT NULL
        )"""
    )
    db.execute(
        """CREATE TRIGGER IF NOT EXISTS subscribers_seq_delete AFTER DELETE ON subscribers
        BEGIN
            UPDATE subscriber_changes SET n = n + 1;
            INSERT INTO subscribers_gone (change_seq, subscriber_id)
                SELECT n, OLD.id FROM subscriber_changes;
        END"""
    )


@migrations()
def m025_staff_and_audit(db: Database) -> None:
    """The editors' desk: staff accounts with a role, their sessions, one-time links,
    failed logins, passkeys (WebAuthn) and their pending challenges, and the audit log,
    append-only and hash-chained (each row carries the hash of the one before;
    triggers refuse an UPDATE or DELETE)."""
    db.execute(
        """CREATE TABLE IF NOT EXISTS audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            role TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL,
            target_kind TEXT NOT NULL,
            outcome TEXT NOT NULL,
            detail TEXT NOT NULL,
            before_hash TEXT NOT NULL,
            after_hash TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )"""
    )
    for verb in ("UPDATE", "DELETE"):
        db.execute(
            f"""CREATE TRIGGER IF NOT EXISTS audit_log_no_{verb.lower()}
            BEFORE {verb} ON audit_log
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"""
        )
    db.execute(
        """CREATE TABLE IF NOT EXISTS staff (
            email TEXT PRIMARY KEY,
            role TEXT NOT NULL,
            password_hash TEXT NOT NULL DEFAULT '',
            totp_secret TEXT NOT NULL DEFAULT '',
            totp_step INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            changed_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS staff_sessions (
            token_hash TEXT PRIMARY KEY,
            email TEXT NOT NULL REFERENCES staff (email) ON DELETE CASCADE,
            csrf TEXT NOT NULL,
            created_at TEXT NOT NULL,
            seen_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS staff_links (
            token_hash TEXT PRIMARY KEY,
            email TEXT NOT NULL REFERENCES staff (email) ON DELETE CASCADE,
            expires_at TEXT NOT NULL,
            used_at TEXT NOT NULL DEFAULT ''
        )"""
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS login_failures (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            account TEXT NOT NULL,
            network TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS login_failures_at ON login_failures (at)")
    db.execute(
        """CREATE TABLE IF NOT EXISTS staff_passkeys (
            credential_id TEXT PRIMARY KEY,
            email TEXT NOT NULL REFERENCES staff (email) ON DELETE CASCADE,
            public_key BLOB NOT NULL,
            sign_count INTEGER NOT NULL,
            created_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS staff_challenges (
            challenge TEXT PRIMARY KEY,
            email TEXT NOT NULL,
            expires_at TEXT NOT NULL
        )"""
    )


def _rebuild_with_status(db: Database, table: str, status: str) -> None:
    """Rebuild ``table`` with ``status`` added to its ``CHECK (status IN (...))``; nothing
    when it is there already."""
    row = db.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table]
    ).fetchone()
    create = str(row[0])
    check = re.search(r"CHECK\s*\(\s*status\s+IN\s*\(([^)]*)\)", create, re.I)
    if check is None:
        raise ValueError(f"{table} has no CHECK (status IN (...)) to add {status!r} to")
    allowed = [v.strip() for v in check.group(1).split(",")]
    if f"'{status}'" in allowed:
        return
    new_list = ", ".join([*allowed, f"'{status}'"])
    create = create[: check.start(1)] + new_list + create[check.end(1) :]
    temporary = f"{table}_rebuilt"
    head = re.match(r"\s*CREATE\s+TABLE\s+(\"?\w+\"?|\[\w+\]|`\w+`)", create, re.I)
    assert head is not None, create
    create = f"CREATE TABLE {temporary}" + create[head.end() :]
    others = db.execute(
        "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger') "
        "AND sql IS NOT NULL ORDER BY type, name",
        [table],
    ).fetchall()
    columns = ", ".join(f'"{c.name}"' for c in db.table(table).columns)
    sequence = (
        db.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", [table]).fetchone()
        if db["sqlite_sequence"].exists()
        else None
    )
    db.execute(create)
    db.execute(f"INSERT INTO {temporary} ({columns}) SELECT {columns} FROM {table}")
    db.execute(f"DROP TABLE {table}")
    db.execute(f"ALTER TABLE {temporary} RENAME TO {table}")
    for (statement,) in others:
        db.execute(statement)
    if sequence is not None:
        db.execute(
            "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", [sequence[0], table]
        )
        db.execute(
            "INSERT INTO sqlite_sequence (name, seq) SELECT ?, ? "
            "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?)",
            [table, sequence[0], table],
        )


def migration_names() -> list[str]:
    """The names of every migration this digest knows, in order."""
    return [m.name for m in migrations._migrations]
