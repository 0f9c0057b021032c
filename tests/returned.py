"""Returned mail as the tests make it: a store with readers sent an edition, DSNs and ARF
reports about them, a Maildir that holds them; for the returns tests and the sunset's."""

import mailbox
from pathlib import Path
from typing import Any

from digest import store
from digest.config import Config
from digest.models import RenderedVariant
from digest.readers.subscribers import save_subscriber
from digest.tokens import Sent, verp_address

from .conftest import (
    NOW,
    SECRET,
    make_config,
)

RETURN_PATH = "bounces@news.example.com"


def _maildir(folder: Path, messages: list[bytes]) -> Path:
    """A Maildir holding ``messages`` byte for byte, read in the order given (the
    mailbox module's own names sort by a counter that passes 9 to 10)."""
    mailbox.Maildir(str(folder), create=True)
    for n, raw in enumerate(messages):
        (folder / "new" / f"{n:06d}.test").write_bytes(raw)
    return folder


def _setup(tmp_path: Path, **sections: Any) -> tuple[Config, Any]:
    smtp = {"return_path": RETURN_PATH, **sections.pop("smtp", {})}
    config = make_config(tmp_path, smtp=smtp, **sections)
    return config, store.open_store(config.store_path)


def _reader(db: Any, address: str) -> Any:
    save_subscriber(db, address, "", [], NOW)
    return store.get_subscriber(db, address)


def _sent(db: Any, week: str, *readers: Any) -> int:
    """An edition of ``week`` frozen and sent to ``readers``: what a return can answer."""
    variant = RenderedVariant("", "Subject", "<p>x</p>", "x", 1)
    edition = store.get_edition(db, week)
    edition_id = edition.id if edition else store.freeze_edition(db, week, {}, [variant], NOW)
    for reader in readers:
        row = db.conn.execute(
            "SELECT id FROM deliveries WHERE edition_id = ? AND subscriber_id = ?",
            (edition_id, reader.id),
        ).fetchone()
        store.record_delivery(db, row[0], "sent", "", NOW)
    return edition_id


def _verp(config: Config, reader: Any, edition: int) -> str:
    return verp_address(SECRET, config.list_id, config.return_path, reader.id, Sent(edition))


def _delivered_to(raw: bytes, address: str) -> bytes:
    """The message as the return path's mailbox stores it: Postfix's X-Original-To."""
    return f"X-Original-To: {address}\nDelivered-To: {address}\n".encode() + raw


def _arf(feedback_type: str, recipient: str, quoted: str = "") -> bytes:
    return (
        "From: fbl@isp.example.net\nTo: abuse@news.example.com\nSubject: FBL\n"
        "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=feedback-report; "
        'boundary="B"\n\n--B\nContent-Type: text/plain\n\nA complaint.\n\n'
        f"--B\nContent-Type: message/feedback-report\n\nFeedback-Type: {feedback_type}\n"
        f"Version: 1\nOriginal-Rcpt-To: {recipient}\n\n"
        f"--B\nContent-Type: message/rfc822\n\nTo: {recipient}\n{quoted}"
        "Subject: The Weekly Wrap\n\nHello\n--B--\n"
    ).encode()
