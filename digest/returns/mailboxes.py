"""The return-path mailbox, read one new message at a time: a Maildir (new/ -> cur/ with
flag S) or an IMAP folder (UNSEEN -> \\Seen).

A message is marked done only after its outcome is stored, so a crash between the two
applies it again on the next run, which is harmless: every change is idempotent. A
message that cannot be read (too big, too deeply nested, broken) is set aside: flagged
for a person and never read again, but not marked seen. Mail that is no return at all
(a person writing) is left exactly where it was, unread.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from digest.config import ImapConfig
from digest.errors import ConfigError, MaildirError


class Mailbox(Protocol):
    """New messages as (key, bytes or None when past ``max_bytes``); each is then marked
    done, set aside, or left alone."""

    def new_messages(self, max_bytes: int) -> Iterator[tuple[str, bytes | None]]: ...

    def done(self, key: str) -> None: ...

    def set_aside(self, key: str) -> None: ...

    def close(self) -> None: ...


_MAILDIR_NAME = re.compile(r"(\d+)\.([^.]*)")
_MICROSECONDS = re.compile(r"M(\d+)")
_COUNTER = re.compile(r"Q(\d+)")


def delivered_at(name: str) -> tuple[int, int, int, str]:
    """A Maildir file name's delivery time as (seconds, microseconds, counter, name):
    names record it as ``<seconds>.M<microseconds>P<pid>[Q<count>]...`` with the numbers
    unpadded, so ``M99`` was delivered before ``M100`` though it sorts after it as text.
    A name without that shape sorts after every dated one, by its text."""
    dated = _MAILDIR_NAME.match(name)
    if dated is None:
        return (2**63, 0, 0, name)
    unique = dated.group(2)
    micro, count = _MICROSECONDS.search(unique), _COUNTER.search(unique)
    return (
        int(dated.group(1)),
        int(micro.group(1)) if micro else 0,
        int(count.group(1)) if count else 0,
        name,
    )


class MaildirBox:
    """A Maildir: new/ holds what has not been read yet. Files are moved by name, never
    parsed here (a crafted message must not break the listing)."""

    def __init__(self, path: Path) -> None:
        if not (path / "new").is_dir() or not (path / "cur").is_dir():
            raise MaildirError(f"{path} is not a Maildir (it needs new/ and cur/ folders).")
        self.path = path

    def new_messages(self, max_bytes: int) -> Iterator[tuple[str, bytes | None]]:
        """Each message in new/, oldest first by the time its name records; None for one
        past ``max_bytes``."""
        names = sorted(
            (e.name for e in os.scandir(self.path / "new") if e.is_file()), key=delivered_at
        )
        for name in names:
            if name.startswith("."):
                continue
            file = self.path / "new" / name
            try:
                size = file.stat().st_size
                yield name, None if size > max_bytes else file.read_bytes()
            except FileNotFoundError:  # another reader took it meanwhile
                continue

    def done(self, key: str) -> None:
        """File the message in cur/ as seen: it is never applied twice."""
        self._file(key, "S")

    def set_aside(self, key: str) -> None:
        """File the message in cur/ flagged for a person, unseen: never read again."""
        self._file(key, "F")

    def _file(self, key: str, flag: str) -> None:
        base = key.split(":", 1)[0]
        os.replace(self.path / "new" / key, self.path / "cur" / f"{base}:2,{flag}")

    def close(self) -> None:
        """Nothing to close."""


@dataclass
class ImapBox:
    """An IMAP folder: UNSEEN messages are new; done sets \\Seen."""

    client: imaplib.IMAP4

    @classmethod
    def connect(cls, settings: ImapConfig, ca_file: str = "") -> ImapBox:
        """Log in and select the folder; ConfigError that names the setting to fix."""
        if not settings.host:
            raise ConfigError("[imap] host is empty: set it to read a hosted mailbox.")
        if not settings.password:
            raise ConfigError("DIGEST_IMAP_PASSWORD is not set: the IMAP login needs it.")
        context = ssl.create_default_context(cafile=ca_file or None)
        try:
            client: imaplib.IMAP4
            if settings.tls == "tls":
                client = imaplib.IMAP4_SSL(
                    settings.host, settings.port, ssl_context=context, timeout=settings.timeout
                )
            else:
                client = imaplib.IMAP4(settings.host, settings.port, timeout=settings.timeout)
                if settings.tls == "starttls":
                    client.starttls(ssl_context=context)
            client.login(settings.username, settings.password)
            status, _ = client.select(_quoted(settings.folder))
        except (OSError, imaplib.IMAP4.error) as e:
            raise ConfigError(
                f"Cannot read the IMAP mailbox {settings.username}@{settings.host}:"
                f"{settings.port}: {e}. Check [imap] host, port, tls, username, folder "
                "and DIGEST_IMAP_PASSWORD."
            ) from e
        if status != "OK":
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                client.logout()
            raise ConfigError(f"[imap] folder {settings.folder!r} cannot be opened.")
        return cls(client)

    def new_messages(self, max_bytes: int) -> Iterator[tuple[str, bytes | None]]:
        """Each unseen message not set aside, read without marking it seen; None for one
        past ``max_bytes`` (its size is asked first)."""
        _, found = self.client.uid("SEARCH", "UNSEEN", "UNFLAGGED")
        for uid in (found[0] or b"").decode().split():
            _, sized = self.client.uid("FETCH", uid, "(RFC822.SIZE)")
            size = re.search(rb"RFC822\.SIZE (\d+)", b" ".join(_bytes(p) for p in sized))
            if size and int(size.group(1)) > max_bytes:
                yield uid, None
                continue
            _, data = self.client.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((part[1] for part in data if isinstance(part, tuple)), None)
            if isinstance(raw, bytes):
                yield uid, raw

    def done(self, key: str) -> None:
        """Mark the message seen: it is never applied twice."""
        self.client.uid("STORE", key, "+FLAGS", "(\\Seen)")

    def set_aside(self, key: str) -> None:
        """Flag the message for a person, unseen: never read again."""
        self.client.uid("STORE", key, "+FLAGS", "(\\Flagged)")

    def close(self) -> None:
        """Log out."""
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            self.client.logout()


def _bytes(part: object) -> bytes:
    if isinstance(part, tuple):
        return b" ".join(p for p in part if isinstance(p, bytes))
    return part if isinstance(part, bytes) else b""


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
