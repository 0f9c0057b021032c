"""The return-path mailbox, read one new message at a time and each marked done once
applied: a Maildir (new/ -> cur/, flag S) or an IMAP folder (UNSEEN -> \\Seen).

A message is marked done only after its outcome is stored, so a crash between the two
applies it again on the next run, which is harmless: every change is idempotent.
"""

from __future__ import annotations

import contextlib
import imaplib
import mailbox
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from digest.config import ImapConfig
from digest.errors import ConfigError, MaildirError


class Mailbox(Protocol):
    """New messages as (key, bytes), and a way to mark one done."""

    def new_messages(self) -> Iterator[tuple[str, bytes]]: ...

    def done(self, key: str) -> None: ...

    def close(self) -> None: ...


class MaildirBox:
    """A Maildir: new/ holds what has not been read yet."""

    def __init__(self, path: Path) -> None:
        if not (path / "new").is_dir() or not (path / "cur").is_dir():
            raise MaildirError(f"{path} is not a Maildir (it needs new/ and cur/ folders).")
        self.box = mailbox.Maildir(str(path), factory=None, create=False)

    def new_messages(self) -> Iterator[tuple[str, bytes]]:
        """Each message in new/, oldest file name first."""
        for key in sorted(self.box.iterkeys()):
            message = self.box.get_message(key)
            if message.get_subdir() == "new":
                yield key, self.box.get_bytes(key)

    def done(self, key: str) -> None:
        """File the message in cur/ as seen: it is never applied twice."""
        message = self.box.get_message(key)
        message.set_subdir("cur")
        message.add_flag("S")
        self.box[key] = message

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

    def new_messages(self) -> Iterator[tuple[str, bytes]]:
        """Each unseen message, read without marking it seen."""
        _, found = self.client.uid("SEARCH", "UNSEEN")
        for uid in (found[0] or b"").decode().split():
            _, data = self.client.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((part[1] for part in data if isinstance(part, tuple)), None)
            if isinstance(raw, bytes):
                yield uid, raw

    def done(self, key: str) -> None:
        """Mark the message seen: it is never applied twice."""
        self.client.uid("STORE", key, "+FLAGS", "(\\Seen)")

    def close(self) -> None:
        """Log out."""
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            self.client.logout()


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
