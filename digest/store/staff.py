"""The desk's rows: staff accounts, their sessions and one-time links, failed logins,
and the audit log (append-only: the schema's triggers refuse UPDATE and DELETE)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from digest.store.columns import insert_row, to_db_time, transaction

AUDIT_COLUMNS = (
    "id",
    "at",
    "actor",
    "role",
    "action",
    "target",
    "target_kind",
    "outcome",
    "detail",
    "before_hash",
    "after_hash",
    "prev_hash",
    "hash",
)


@dataclass(frozen=True)
class StaffRow:
    """One staff account."""

    email: str
    role: str
    password_hash: str
    totp_secret: str
    created_at: str
    changed_at: str
    totp_step: str = "0"  # the last TOTP time step a login spent: no code counts twice


# ---------------------------------------------------------------- the audit log


def append_audit(db: Database, row: dict[str, Any], chain: Any) -> dict[str, Any]:
    """Append ``row`` (every column but id, prev_hash and hash) under the write lock:
    ``chain(row_with_id_and_prev)`` gives its hash. The row as stored."""
    with transaction(db):
        last = db.conn.execute("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
        full = {
            **row,
            "id": (int(last[0]) + 1) if last else 1,
            "prev_hash": last[1] if last else "",
        }
        full["hash"] = chain(full)
        insert_row(db, "audit_log", full)
    return full


def audit_rows(db: Database, since: datetime | None = None) -> list[dict[str, Any]]:
    """The audit log in order, from ``since`` when given."""
    sql = f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit_log"
    params: list[str] = []
    if since is not None:
        sql += " WHERE at >= ?"
        params.append(to_db_time(since))
    cursor = db.conn.execute(sql + " ORDER BY id", params)
    return [dict(zip(AUDIT_COLUMNS, r, strict=True)) for r in cursor]


# ---------------------------------------------------------------- staff accounts


def _staff(r: Any) -> StaffRow:
    return StaffRow(*(str(v) for v in r))


_STAFF = (
    "SELECT email, role, password_hash, totp_secret, created_at, changed_at, totp_step FROM staff"
)


def get_staff(db: Database, email: str) -> StaffRow | None:
    r = db.conn.execute(_STAFF + " WHERE email = ?", (email,)).fetchone()
    return _staff(r) if r else None


def list_staff(db: Database) -> list[StaffRow]:
    return [_staff(r) for r in db.conn.execute(_STAFF + " ORDER BY email")]


def insert_staff(db: Database, email: str, role: str, password_hash: str, now: datetime) -> None:
    with transaction(db):
        at = to_db_time(now)
        insert_row(
            db,
            "staff",
            {
                "email": email,
                "role": role,
                "password_hash": password_hash,
                "totp_secret": "",
                "created_at": at,
                "changed_at": at,
            },
        )


def update_staff(db: Database, email: str, now: datetime, **columns: str | int) -> bool:
    """Set ``columns`` (role, password_hash, totp_secret, totp_step) of one account."""
    sets = ", ".join(f"{c} = ?" for c in columns)
    with transaction(db):
        cur = db.conn.execute(
            f"UPDATE staff SET {sets}, changed_at = ? WHERE email = ?",
            [*columns.values(), to_db_time(now), email],
        )
    return cur.rowcount > 0


def delete_staff(db: Database, email: str) -> bool:
    with transaction(db):
        db.conn.execute("DELETE FROM staff_sessions WHERE email = ?", (email,))
        db.conn.execute("DELETE FROM staff_links WHERE email = ?", (email,))
        db.conn.execute("DELETE FROM staff_passkeys WHERE email = ?", (email,))
        cur = db.conn.execute("DELETE FROM staff WHERE email = ?", (email,))
    return cur.rowcount > 0


# ---------------------------------------------------------------- sessions


def insert_session(db: Database, token_hash: str, email: str, csrf: str, now: datetime) -> None:
    with transaction(db):
        at = to_db_time(now)
        insert_row(
            db,
            "staff_sessions",
            {
                "token_hash": token_hash,
                "email": email,
                "csrf": csrf,
                "created_at": at,
                "seen_at": at,
            },
        )


def get_session(db: Database, token_hash: str) -> tuple[str, str, str, str] | None:
    """(email, csrf, created_at, seen_at) of a session."""
    r = db.conn.execute(
        "SELECT email, csrf, created_at, seen_at FROM staff_sessions WHERE token_hash = ?",
        (token_hash,),
    ).fetchone()
    return (str(r[0]), str(r[1]), str(r[2]), str(r[3])) if r else None


def touch_session(db: Database, token_hash: str, now: datetime) -> None:
    with transaction(db):
        db.conn.execute(
            "UPDATE staff_sessions SET seen_at = ? WHERE token_hash = ?",
            (to_db_time(now), token_hash),
        )


def delete_sessions(db: Database, *, token_hash: str = "", email: str = "") -> int:
    """End one session (by its token's hash) or every session of ``email``."""
    with transaction(db):
        if token_hash:
            cur = db.conn.execute("DELETE FROM staff_sessions WHERE token_hash = ?", (token_hash,))
        else:
            cur = db.conn.execute("DELETE FROM staff_sessions WHERE email = ?", (email,))
    return cur.rowcount


# ---------------------------------------------------------------- one-time links


def insert_link(db: Database, token_hash: str, email: str, expires: datetime) -> None:
    with transaction(db):
        db.conn.execute("DELETE FROM staff_links WHERE email = ? AND used_at = ''", (email,))
        insert_row(
            db,
            "staff_links",
            {"token_hash": token_hash, "email": email, "expires_at": to_db_time(expires)},
        )


def spend_totp_step(db: Database, email: str, step: int) -> bool:
    """Record that a login spent TOTP time step ``step``; False when it (or a later
    one) was spent already: a code seen once, or overheard, does not log in again."""
    with transaction(db):
        cur = db.conn.execute(
            "UPDATE staff SET totp_step = ? WHERE email = ? AND totp_step < ?",
            (step, email, step),
        )
    return cur.rowcount > 0


def spend_link(db: Database, token_hash: str, now: datetime) -> str:
    """The account a link unspent and unexpired at ``now`` is for, spending it; ""
    for any other."""
    with transaction(db):
        r = db.conn.execute(
            "SELECT email FROM staff_links WHERE token_hash = ? AND used_at = '' "
            "AND expires_at > ?",
            (token_hash, to_db_time(now)),
        ).fetchone()
        if r is None:
            return ""
        db.conn.execute(
            "UPDATE staff_links SET used_at = ? WHERE token_hash = ?", (to_db_time(now), token_hash)
        )
    return str(r[0])


def peek_link(db: Database, token_hash: str, now: datetime) -> str:
    """The account an unspent, unexpired link is for, without spending it."""
    r = db.conn.execute(
        "SELECT email FROM staff_links WHERE token_hash = ? AND used_at = '' AND expires_at > ?",
        (token_hash, to_db_time(now)),
    ).fetchone()
    return str(r[0]) if r else ""


# ---------------------------------------------------------------- failed logins


def record_login_failure(db: Database, account: str, network: str, now: datetime) -> None:
    with transaction(db):
        insert_row(
            db, "login_failures", {"at": to_db_time(now), "account": account, "network": network}
        )


def login_failures_since(
    db: Database, since: datetime, account: str, network: str
) -> tuple[int, int]:
    """(failures for ``account``, failures from ``network``) since ``since``."""
    at = to_db_time(since)
    by_account = db.conn.execute(
        "SELECT COUNT(*) FROM login_failures WHERE at >= ? AND account = ?", (at, account)
    ).fetchone()[0]
    by_network = db.conn.execute(
        "SELECT COUNT(*) FROM login_failures WHERE at >= ? AND network = ?", (at, network)
    ).fetchone()[0]
    return int(by_account), int(by_network)


# ---------------------------------------------------------------- the returns log


def returns_log(db: Database, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` returns and leavings on the consent record (bounces, soft
    bounces, complaints, unsubscribes), with what proved each: the desk's returns log."""
    cursor = db.conn.execute(
        "SELECT e.at, s.email, e.event, e.source, e.detail FROM subscriber_events e "
        "JOIN subscribers s ON s.id = e.subscriber_id "
        "WHERE e.event IN ('bounced', 'soft-bounce', 'complaint', 'unsubscribed') "
        "ORDER BY e.id DESC LIMIT ?",
        (limit,),
    )
    names = ("at", "email", "event", "source", "detail")
    return [dict(zip(names, r, strict=True)) for r in cursor]


# ---------------------------------------------------------------- passkeys


def add_challenge(db: Database, challenge: str, email: str, expires: datetime) -> None:
    """A WebAuthn challenge handed out (for ``email``'s registration, or "" for a login)."""
    with transaction(db):
        insert_row(
            db,
            "staff_challenges",
            {"challenge": challenge, "email": email, "expires_at": to_db_time(expires)},
        )


def take_challenge(db: Database, challenge: str, now: datetime) -> str | None:
    """Spend a challenge: the account it was for ("" for a login), None when it was
    never handed out, spent or expired. Expired ones are cleared."""
    with transaction(db):
        db.conn.execute("DELETE FROM staff_challenges WHERE expires_at <= ?", (to_db_time(now),))
        r = db.conn.execute(
            "SELECT email FROM staff_challenges WHERE challenge = ?", (challenge,)
        ).fetchone()
        db.conn.execute("DELETE FROM staff_challenges WHERE challenge = ?", (challenge,))
    return str(r[0]) if r else None


def add_passkey(
    db: Database, credential_id: str, email: str, public_key: bytes, count: int, now: datetime
) -> None:
    with transaction(db):
        insert_row(
            db,
            "staff_passkeys",
            {
                "credential_id": credential_id,
                "email": email,
                "public_key": public_key,
                "sign_count": count,
                "created_at": to_db_time(now),
            },
        )


def get_passkey(db: Database, credential_id: str) -> tuple[str, bytes, int] | None:
    """(email, public key, sign count) of a registered credential."""
    r = db.conn.execute(
        "SELECT email, public_key, sign_count FROM staff_passkeys WHERE credential_id = ?",
        (credential_id,),
    ).fetchone()
    return (str(r[0]), bytes(r[1]), int(r[2])) if r else None


def passkeys_of(db: Database, email: str) -> list[str]:
    return [
        str(r[0])
        for r in db.conn.execute(
            "SELECT credential_id FROM staff_passkeys WHERE email = ? ORDER BY created_at", (email,)
        )
    ]


def set_sign_count(db: Database, credential_id: str, count: int) -> None:
    with transaction(db):
        db.conn.execute(
            "UPDATE staff_passkeys SET sign_count = ? WHERE credential_id = ?",
            (count, credential_id),
        )


def unsubscribes_by_edition(db: Database) -> dict[int, int]:
    """{edition id: readers who unsubscribed after it went out and before the next
    edition}: what the desk shows beside each edition's counts."""
    editions = db.conn.execute("SELECT id, created_at FROM editions ORDER BY created_at").fetchall()
    counts: dict[int, int] = {}
    for n, (edition_id, start) in enumerate(editions):
        end = editions[n + 1][1] if n + 1 < len(editions) else "9999"
        found = db.conn.execute(
            "SELECT COUNT(*) FROM subscriber_events WHERE event = 'unsubscribed' "
            "AND at >= ? AND at < ?",
            (start, end),
        ).fetchone()[0]
        counts[int(edition_id)] = int(found)
    return counts
