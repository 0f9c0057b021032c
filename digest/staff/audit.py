"""The audit log: every state change and reader lookup appends a row (when, who, role,
action, target, a hash of the state before and after), each row carrying the hash of
the one before, so an edited or deleted row breaks the chain at that row."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from digest.store.columns import to_db_time
from digest.store.staff import append_audit, audit_rows


@dataclass(frozen=True)
class Actor:
    """Who acts: a desk account (``alice@example.com`` with their role) or the command
    line (``cli:<user>``, role ``operator``: whoever runs digest on its machine)."""

    name: str
    role: str


def cli_actor(environ: Mapping[str, str] | None = None) -> Actor:
    """The command line's actor, named by the user running it."""
    env = os.environ if environ is None else environ
    return Actor(f"cli:{env.get('USER') or env.get('LOGNAME') or 'unknown'}", "operator")


def state_hash(state: object) -> str:
    """A hash of a JSON-able state (``""`` for none): what the row says changed
    without holding the state itself."""
    if state is None:
        return ""
    text = json.dumps(state, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def row_hash(row: dict[str, Any]) -> str:
    """The hash of one row: every column but ``hash``, the previous row's hash among
    them, as canonical JSON."""
    body = {k: v for k, v in row.items() if k != "hash"}
    text = json.dumps(body, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record(
    db: Database,
    now: datetime,
    actor: Actor,
    action: str,
    target: str,
    *,
    kind: str = "",
    before: object = None,
    after: object = None,
    outcome: str = "done",
    detail: str = "",
) -> dict[str, Any]:
    """Append one row. ``kind`` "reader" marks a target that is a reader's address
    (masked for viewers); ``outcome`` "refused" records a refused attempt."""
    return append_audit(
        db,
        {
            "at": to_db_time(now),
            "actor": actor.name,
            "role": actor.role,
            "action": action,
            "target": target,
            "target_kind": kind,
            "outcome": outcome,
            "detail": detail,
            "before_hash": state_hash(before),
            "after_hash": state_hash(after),
        },
        row_hash,
    )


def mask_address(address: str) -> str:
    """``a***@example.org``: enough to tell two readers apart, not to write to one."""
    local, at, domain = address.rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def entries(
    db: Database, since: datetime | None = None, *, masked: bool = False
) -> list[dict[str, Any]]:
    """The log from ``since``; with ``masked``, readers' addresses masked (for viewers)."""
    rows = audit_rows(db, since)
    if masked:
        for row in rows:
            if row["target_kind"] == "reader":
                row["target"] = mask_address(str(row["target"]))
    return rows


@dataclass(frozen=True)
class Verdict:
    """What `audit verify` found: rows checked and the first bad one (0: none)."""

    rows: int
    bad_row: int
    reason: str

    @property
    def ok(self) -> bool:
        return self.bad_row == 0


def verify(db: Database) -> Verdict:
    """Walk the chain: each row's id follows the one before, its ``prev_hash`` is that
    row's hash, and its own hash is what its columns give. The first row that breaks
    any of these is named (an edited row breaks its own hash, a deleted one the next
    row's link). A cut tail leaves no mark in the log itself: compare the count with a
    copy kept elsewhere (`audit --json` into the backups) to catch that."""
    prev_id, prev_hash = 0, ""
    rows = audit_rows(db)
    for row in rows:
        rid = int(row["id"])
        if rid != prev_id + 1:
            return Verdict(len(rows), rid, f"row {prev_id + 1} is missing before row {rid}")
        if row["prev_hash"] != prev_hash:
            return Verdict(len(rows), rid, "it does not carry the hash of the row before")
        if row_hash(row) != row["hash"]:
            return Verdict(len(rows), rid, "its columns do not give its hash: it was edited")
        prev_id, prev_hash = rid, str(row["hash"])
    return Verdict(len(rows), 0, "")
