"""The errors digest raises, one family so the CLI can turn each into a message.

    DigestError                  anything the user can fix; the CLI prints it, exit 1
    ├── ConfigError              a setting is missing or malformed (names key and file)
    ├── StoreError               the SQLite store cannot be opened or written
    ├── IngestError              an import source cannot be read at all
    │   └── Unreachable          a fetch refused: the address is private or not allowed
    ├── RowError                 one record (article, subscriber row, address) is unusable
    ├── SubscriberError          a subscriber command cannot be done as asked
    │   ├── SubscriberKeptError  the address left the list; re-adding it needs `reactivate`
    │   └── TooManySignups       one client signed up too often (the page answers 429)
    ├── MaildirError             a folder given as a Maildir is not one
    ├── RenderError              a template is missing or fails to render
    ├── ArchiveError             the web version of an edition cannot be written
    ├── HeaderError              a header value would break the message (CR/LF)
    ├── EditionError             an edition cannot be built or sent as asked
    │   ├── EditionLockedError   another sender holds this week's edition
    │   ├── WeekError            a week label is malformed or out of range (a usage error)
    │   └── ReputationError      the last edition's complaints or bounces refuse a send
    ├── DeliveryError            the relay refuses the whole run (auth, 5xx at MAIL)
    ├── AccessError              an API token or webhook endpoint cannot be made or found
    └── StaffError               a staff account or the audit log cannot do as asked
        └── LoginRefused         a desk login refused (the same words whatever was wrong)

Third-party errors (sqlite3, tomllib, jinja2, aiosmtplib) are wrapped where they
happen, with ``raise ... from e``, so the cause stays visible with ``-v``.
"""

from __future__ import annotations

from typing import Any


class DigestError(Exception):
    """Base of every error a user can act on."""


class ConfigError(DigestError):
    """A configuration value is missing, malformed or out of range."""


class StoreError(DigestError):
    """The SQLite store could not be opened, migrated or written."""


class IngestError(DigestError):
    """An import source could not be read at all (one bad row is not an error)."""


class Unreachable(IngestError):
    """A fetch refused before it connected: the address is not one digest may reach
    (loopback, private, link-local, metadata), said with the address and the setting."""


class RowError(DigestError, ValueError):
    """One record is unusable; carries the reason and the offending value.

    Imports report it per row and go on; a command given one bad value prints it.
    """

    def __init__(self, reason: str, value: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.value = value


class SubscriberError(DigestError):
    """A subscriber command cannot be done as asked (not on the list, bad address)."""


class SubscriberKeptError(SubscriberError):
    """An unsubscribed, bounced or lapsed address was left as is; the message says how to
    re-add."""

    def __init__(self, email: str) -> None:
        super().__init__(
            f"{email} unsubscribed, bounced or lapsed earlier and was left as is. To "
            "re-activate on purpose (they asked to come back), run `subscribers reactivate "
            "EMAIL`."
        )
        self.email = email


class TooManySignups(SubscriberError):
    """One client asked too often: the sign-up page answers 429."""


class MaildirError(DigestError):
    """A folder given as a Maildir has no new/ and cur/ folders."""


class RenderError(DigestError):
    """A template could not be found or rendered."""


class ArchiveError(DigestError):
    """The web version of an edition cannot be written (the "view in browser" page)."""


class HeaderError(DigestError):
    """A header value contains CR or LF, which would inject headers."""


class EditionError(DigestError):
    """An edition cannot be built, frozen or sent as asked."""


class EditionLockedError(EditionError):
    """Another sender is delivering the same week's edition right now."""


class WeekError(EditionError):
    """A week label is malformed or out of range: the caller's input, not the data."""


class ReputationError(EditionError):
    """The last edition's complaints or hard bounces in a provider group passed the rate
    at which `send` refuses: find out why first, then send with --force."""


class DeliveryError(DigestError):
    """The relay refuses the run as a whole (authentication, sender refused)."""


class AccessError(DigestError):
    """An API token or webhook endpoint cannot be made, found or used as asked."""


class StaffError(DigestError):
    """A staff account cannot be added, changed or logged in as asked, or the audit log
    does not verify."""


class LoginRefused(StaffError):
    """A login refused: wrong account, password, code or passkey, or too many failures.
    The message is the same for each, so it tells no one which."""
