"""The errors digest raises, one family so the CLI can turn each into a message.

    DigestError                  anything the user can fix; the CLI prints it, exit 1
    ├── ConfigError              a setting is missing or malformed (names key and file)
    ├── StoreError               the SQLite store cannot be opened or written
    ├── IngestError              an import source cannot be read at all
    ├── RenderError              a template is missing or fails to render
    ├── HeaderError              a header value would break the message (CR/LF)
    ├── EditionError             an edition cannot be built or sent as asked
    │   └── EditionLockedError   another sender holds this week's edition
    └── DeliveryError            the relay refuses the whole run (auth, 5xx at MAIL)

Third-party errors (sqlite3, tomllib, jinja2, aiosmtplib) are wrapped where they
happen, with ``raise ... from e``, so the cause stays visible with ``-v``.
"""

from __future__ import annotations


class DigestError(Exception):
    """Base of every error a user can act on."""


class ConfigError(DigestError):
    """A configuration value is missing, malformed or out of range."""


class StoreError(DigestError):
    """The SQLite store could not be opened, migrated or written."""


class IngestError(DigestError):
    """An import source could not be read at all (one bad row is not an error)."""


class RenderError(DigestError):
    """A template could not be found or rendered."""


class HeaderError(DigestError):
    """A header value contains CR or LF, which would inject headers."""


class EditionError(DigestError):
    """An edition cannot be built, frozen or sent as asked."""


class EditionLockedError(EditionError):
    """Another sender is delivering the same week's edition right now."""


class DeliveryError(DigestError):
    """The relay refuses the run as a whole (authentication, sender refused)."""
