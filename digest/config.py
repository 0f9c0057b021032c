"""Configuration: defaults here, the user's TOML file over them, the environment last.

Every setting can be overridden as ``DIGEST_<SECTION>_<KEY>``; an empty variable counts
as unset. Secrets (``DIGEST_SMTP_PASSWORD``, ``DIGEST_SECRET``) come only from the
environment. Paths in the file are relative to the file.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digest.errors import ConfigError
from digest.models import Sponsor, slugify

DEFAULT_PATH = Path("config") / "digest.toml"
ENV_PREFIX = "DIGEST_"
SECRET_KEYS = {("smtp", "password"), ("imap", "password"), ("dkim", "private_key")}
TLS_MODES = ("none", "starttls", "tls")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class NewsletterConfig:
    """Who sends the newsletter and where its pages live."""

    name: str = "The Weekly Wrap"
    sender: str = "The Weekly Wrap <wrap@example.com>"
    base_url: str = "https://news.example.com/digest"
    timezone: str = "UTC"
    postal_address: str = ""
    reply_to: str = ""
    unsubscribe_mailto: str = ""  # default: unsubscribe@<sender's domain>


@dataclass(frozen=True)
class StoreConfig:
    """Where the SQLite store lives."""

    path: str = "../var/digest.db"


@dataclass(frozen=True)
class OutboxConfig:
    """Where .eml files go when no SMTP host is set."""

    path: str = "../var/outbox"


@dataclass(frozen=True)
class ArchiveConfig:
    """Where the web versions of sent editions, their index and Atom feed are written."""

    path: str = "../var/archive"


@dataclass(frozen=True)
class TemplatesConfig:
    """Where the email templates live; the packaged copy is used when this is missing."""

    path: str = "../templates/email"


@dataclass(frozen=True)
class SmtpConfig:
    """The relay; an empty host means: write to the outbox instead."""

    host: str = ""
    port: int = 587
    tls: str = "starttls"
    username: str = ""
    concurrency: int = 4
    rate: float = 0.0  # messages per second over all connections, 0 = unlimited
    rate_per_hour: float = 0.0  # for relays with an hourly quota, 0 = none
    connect_timeout: float = 30.0  # TCP, TLS, greeting, EHLO and login
    timeout: float = 300.0  # replies to MAIL and RCPT (RFC 5321 4.5.3.2: 5 minutes)
    data_timeout: float = 120.0  # the 354 after DATA (2 minutes)
    dot_timeout: float = 600.0  # the reply to the final "." (10 minutes)
    stop_after_refusals: int = 5  # relay refusals in a row (not of a reader) stop the run
    max_per_connection: int = 1000
    retries: int = 3
    ca_file: str = ""  # extra CA bundle (PEM) for a relay with a private certificate
    password: str = ""  # from DIGEST_SMTP_PASSWORD only
    # The envelope sender bounces go to; default: the From address. When set, every
    # message goes from its own signed address (VERP): bounces+<subscriber>.<ref>.<sig>@...
    return_path: str = ""


@dataclass(frozen=True)
class SignupConfig:
    """Readers who sign themselves up on /subscribe, with double opt-in."""

    confirm_hours: float = 48.0  # a confirmation link works this long
    max_per_address_per_day: int = 3  # confirmation emails to one address
    max_per_ip_per_hour: int = 20  # sign-ups from one client, then 429
    store_ip: str = "hash"  # in the consent record: hash (keyed), raw, or none
    client_ip_header: str = ""  # behind a proxy: the header it sets, e.g. X-Forwarded-For
    welcome: bool = False  # send a welcome email after the confirmation
    answer_seconds: float = 0.25  # every sign-up is answered no sooner: state never shows


@dataclass(frozen=True)
class WebConfig:
    """Who may talk to `digest serve`: the Host names it answers, the Origins it takes
    state-changing forms from. The host and origin of `[newsletter] base_url` (and
    localhost) always count."""

    hosts: tuple[str, ...] = ()  # other Host names, e.g. a second domain in front
    origins: tuple[str, ...] = ()  # other pages that post forms, e.g. "https://www.example.com"


STORE_IP_MODES = ("hash", "raw", "none")


@dataclass(frozen=True)
class DkimConfig:
    """DKIM signing by digest itself (a relay that signs, like OpenDKIM, needs none)."""

    domain: str = ""  # "" = do not sign
    selector: str = ""
    private_key: str = ""  # PEM (RSA or Ed25519), from DIGEST_DKIM_PRIVATE_KEY only


@dataclass(frozen=True)
class BouncesConfig:
    """What comes back after the relay accepted a message: bounces and complaints."""

    soft_limit: int = 3  # soft bounces from this many different editions: bounced
    maildir: str = ""  # the return-path mailbox the weekly run reads first; "" = none
    probe_days: int = 30  # an unproven hard bounce probes a reader at most this often
    max_message_kb: int = 10240  # a returned message past this is set aside unread


@dataclass(frozen=True)
class ImapConfig:
    """A hosted return-path mailbox, read by `process-mail --imap` and the weekly run."""

    host: str = ""  # "" = no IMAP mailbox
    port: int = 993
    tls: str = "tls"  # none | starttls | tls
    username: str = ""
    folder: str = "INBOX"
    timeout: float = 30.0
    ca_file: str = ""
    password: str = ""  # from DIGEST_IMAP_PASSWORD only


@dataclass(frozen=True)
class Relay:
    """One relay's address."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def parse_relays(hosts: str, default_port: int) -> list[Relay]:
    """'a.example.net, b.example.net:2525' -> relays; ConfigError for a malformed one."""
    relays = []
    for item in (h.strip() for h in hosts.split(",")):
        if not item:
            continue
        found = re.fullmatch(r"\[?([^\]\s]+?)\]?(?::(\d{1,5}))?", item)
        port = int(found.group(2)) if found and found.group(2) else default_port
        if not found or not 1 <= port <= 65535 or found.group(1).count(":") == 1:
            raise ConfigError(
                f"[smtp] host {item!r}: expected host or host:port (a comma between relays)."
            )
        relays.append(Relay(found.group(1), port))
    if not relays:
        raise ConfigError("[smtp] host names no relay.")
    return relays


@dataclass(frozen=True)
class ScheduleConfig:
    """When the weekly job runs, in the newsletter's timezone."""

    day: str = "mon"
    time: str = "07:00"
    misfire_grace: int = 3600
    skip_if_empty: bool = True  # false: a week with no articles still sends a short note
    min_articles: int = 1  # fewer published that week: no edition
    hold: bool = False  # build, send the editors a test copy, wait for `digest approve`
    editors: tuple[str, ...] = ()  # who gets the held edition's test copy
    approve_after_hours: float = 0.0  # with hold: send anyway after this long; 0 = never


@dataclass(frozen=True)
class DigestConfig:
    """What goes into an edition."""

    max_articles: int = 12
    max_per_section: int = 4
    excerpt_chars: int = 300
    max_message_kb: int = 100  # Gmail clips messages past ~102 KB, hiding the footer
    subject: str = "{name}: {week_label}"
    section_order: tuple[str, ...] = ()
    other_section: str = "More News"
    greeting: str = "Hi {first_name},"  # also {name}; for readers whose name we know
    greeting_anonymous: str = "Hello,"  # for readers without a name


@dataclass(frozen=True)
class FeedsConfig:
    """How feeds are fetched."""

    timeout: float = 20.0
    max_bytes: int = 10_000_000
    user_agent: str = ""  # default: digest/<version> (+<base_url>)


@dataclass(frozen=True)
class Config:
    """The whole, validated configuration.

    Derived values are cached: the sender reads them once per message.
    """

    path: Path
    newsletter: NewsletterConfig = field(default_factory=NewsletterConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    outbox: OutboxConfig = field(default_factory=OutboxConfig)
    archive: ArchiveConfig = field(default_factory=ArchiveConfig)
    templates: TemplatesConfig = field(default_factory=TemplatesConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    digest: DigestConfig = field(default_factory=DigestConfig)
    feeds: FeedsConfig = field(default_factory=FeedsConfig)
    signup: SignupConfig = field(default_factory=SignupConfig)
    bounces: BouncesConfig = field(default_factory=BouncesConfig)
    dkim: DkimConfig = field(default_factory=DkimConfig)
    imap: ImapConfig = field(default_factory=ImapConfig)
    web: WebConfig = field(default_factory=WebConfig)
    sponsors: Mapping[str, Sponsor] = field(default_factory=dict)  # by topic slug
    topic_aliases: Mapping[str, str] = field(default_factory=dict)  # lower-case category
    secret: str = ""  # DIGEST_SECRET

    def resolve(self, relative: str) -> Path:
        """A path from the file, taken relative to the file's folder."""
        p = Path(relative).expanduser()
        return p if p.is_absolute() else (self.path.parent / p).resolve()

    @property
    def store_path(self) -> Path:
        """The SQLite file."""
        return self.resolve(self.store.path)

    @property
    def outbox_path(self) -> Path:
        """The outbox folder."""
        return self.resolve(self.outbox.path)

    @cached_property
    def relay(self) -> SmtpConfig:
        """[smtp] with ``ca_file`` resolved against the config file's folder."""
        if not self.smtp.ca_file:
            return self.smtp
        return dataclasses.replace(self.smtp, ca_file=str(self.resolve(self.smtp.ca_file)))

    @property
    def archive_path(self) -> Path:
        """The archive folder."""
        return self.resolve(self.archive.path)

    @cached_property
    def tz(self) -> ZoneInfo:
        """The newsletter's timezone (validated at load)."""
        return ZoneInfo(self.newsletter.timezone)

    @cached_property
    def sender_address(self) -> str:
        """The bare address of the sender, for the SMTP envelope."""
        return parseaddr(self.newsletter.sender)[1]

    @cached_property
    def return_path(self) -> str:
        """The envelope sender (MAIL FROM) without VERP: [smtp] return_path or From."""
        return parseaddr(self.smtp.return_path)[1] or self.sender_address

    @property
    def verp(self) -> bool:
        """Whether each message goes from its own signed return path: whenever one is
        configured (the From address's mailbox may not take plus-addresses)."""
        return bool(self.smtp.return_path)

    @property
    def bounce_maildir(self) -> Path | None:
        """The return-path Maildir the weekly run reads, if one is configured."""
        return self.resolve(self.bounces.maildir) if self.bounces.maildir else None

    @cached_property
    def list_id(self) -> str:
        """The List-Id value's identifier: '<name-slug>.<sender domain>'."""
        domain = self.sender_address.rpartition("@")[2].lower()
        return f"{slugify(self.newsletter.name)}.{domain}"

    @cached_property
    def unsubscribe_mailto(self) -> str:
        """The address that takes unsubscribe requests by mail."""
        if self.newsletter.unsubscribe_mailto:
            return self.newsletter.unsubscribe_mailto
        return "unsubscribe@" + self.sender_address.rpartition("@")[2].lower()

    @cached_property
    def base_url(self) -> str:
        """The public origin and path of the web pages, without a trailing slash."""
        return self.newsletter.base_url.rstrip("/")


_SECTIONS: dict[str, type] = {
    "newsletter": NewsletterConfig,
    "store": StoreConfig,
    "outbox": OutboxConfig,
    "archive": ArchiveConfig,
    "templates": TemplatesConfig,
    "smtp": SmtpConfig,
    "schedule": ScheduleConfig,
    "digest": DigestConfig,
    "feeds": FeedsConfig,
    "signup": SignupConfig,
    "dkim": DkimConfig,
    "bounces": BouncesConfig,
    "imap": ImapConfig,
    "web": WebConfig,
}
# TOML keys that are Python keywords or would shadow a builtin.
_KEY_ALIASES = {("newsletter", "from"): "sender"}
# Keys an earlier version took, and what to do instead.
_RETIRED_KEYS = {
    ("smtp", "verp"): "VERP is on whenever [smtp] return_path is set; remove the line",
}


def config_path(explicit: str | Path | None, environ: Mapping[str, str]) -> Path:
    """Where the config file is: --config, then $DIGEST_CONFIG, then config/digest.toml."""
    if explicit:
        return Path(explicit)
    if environ.get("DIGEST_CONFIG"):
        return Path(environ["DIGEST_CONFIG"])
    return DEFAULT_PATH


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read, merge and validate the configuration at ``path``."""
    env = os.environ if environ is None else environ
    if not path.is_file():
        raise ConfigError(
            f"No configuration at {path}. Run `python -m digest init` to create one, "
            "or point --config / DIGEST_CONFIG at an existing file."
        )
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path} is not valid TOML: {e}. Fix the file and try again.") from e
    return build_config(path.resolve(), raw, env)


def build_config(path: Path, raw: Mapping[str, Any], env: Mapping[str, str]) -> Config:
    """Validate parsed TOML plus environment overrides into a Config."""
    unknown = set(raw) - set(_SECTIONS) - {"sponsors", "topics"}
    if unknown:
        raise ConfigError(
            f"{path}: unknown section [{sorted(unknown)[0]}]; "
            f"known sections are {', '.join(sorted([*_SECTIONS, 'sponsors', 'topics']))}."
        )
    sections = {
        name: _build_section(path, name, cls, raw.get(name, {}), env)
        for name, cls in _SECTIONS.items()
    }
    config = Config(
        path=path,
        sponsors=_build_sponsors(path, raw.get("sponsors", {})),
        topic_aliases=_build_aliases(path, raw.get("topics", {})),
        secret=env.get("DIGEST_SECRET", ""),
        **sections,
    )
    _check_values(config)
    return config


def _build_section(path: Path, section: str, cls: type, values: Any, env: Mapping[str, str]) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: [{section}] must be a table of settings.")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    keys = {_KEY_ALIASES.get((section, k), k): k for k in values}
    for attr, toml_key in keys.items():
        if (section, toml_key) in _RETIRED_KEYS:
            raise ConfigError(
                f"{path}: [{section}] {toml_key} is no longer a setting: "
                f"{_RETIRED_KEYS[(section, toml_key)]}."
            )
        if attr not in fields:
            known = ", ".join(k for k in _toml_keys(section, fields))
            raise ConfigError(
                f"{path}: unknown key [{section}] {toml_key}; known keys are {known}."
            )
        if (section, attr) in SECRET_KEYS:
            env_name = f"{ENV_PREFIX}{section.upper()}_{attr.upper()}"
            raise ConfigError(
                f"{path}: [{section}] {toml_key} is a secret and must not be in a file; "
                f"remove it and set {env_name} in the environment."
            )
    kwargs: dict[str, Any] = {}
    for attr, f in fields.items():
        toml_key = keys.get(attr, attr)
        env_name = f"{ENV_PREFIX}{section.upper()}_{_env_key(section, attr)}"
        where = f"{path} or {env_name}"
        if env.get(env_name, ""):
            kwargs[attr] = _coerce(env[env_name], f.type, section, toml_key, where, True)
        elif toml_key in values:
            kwargs[attr] = _coerce(values[toml_key], f.type, section, toml_key, where, False)
    return cls(**kwargs)


def _toml_keys(section: str, fields: Mapping[str, Any]) -> list[str]:
    reverse = {v: k for (s, k), v in _KEY_ALIASES.items() if s == section}
    return [reverse.get(a, a) for a in fields if (section, a) not in SECRET_KEYS]


def _env_key(section: str, attr: str) -> str:
    reverse = {v: k for (s, k), v in _KEY_ALIASES.items() if s == section}
    return reverse.get(attr, attr).upper()


def _coerce(value: Any, type_name: Any, section: str, key: str, where: str, from_env: bool) -> Any:
    def bad(form: str) -> ConfigError:
        return ConfigError(f"[{section}] {key} = {value!r} in {where}: expected {form}.")

    if type_name == "str":
        if not isinstance(value, str):
            raise bad("a string in quotes")
        return value
    if type_name == "int":
        if from_env and isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("a whole number")
        return value
    if type_name == "float":
        if from_env and isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                raise bad("a number") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("a number")
        return float(value)
    if type_name == "bool":
        if (
            from_env
            and isinstance(value, str)
            and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off")
        ):
            return value.lower() in ("1", "true", "yes", "on")
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if type_name == "tuple[str, ...]":
        if from_env and isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad('a list of strings, like ["DNS", "Cybersecurity"]')
        return tuple(value)
    raise AssertionError(f"no coercion for {type_name}")  # a programming error


def _build_sponsors(path: Path, raw: Any) -> dict[str, Sponsor]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [sponsors] must map topic names to sponsors.")
    sponsors: dict[str, Sponsor] = {}
    for topic, value in raw.items():
        if isinstance(value, str):
            sponsors[slugify(topic)] = Sponsor(name=value)
        elif isinstance(value, dict) and isinstance(value.get("name"), str):
            url = value.get("url", "")
            if not isinstance(url, str) or (url and not _is_http_url(url)):
                raise ConfigError(
                    f"{path}: [sponsors] {topic!r} url = {url!r}: expected an http(s) URL."
                )
            sponsors[slugify(topic)] = Sponsor(name=value["name"], url=url)
        else:
            raise ConfigError(
                f"{path}: [sponsors] {topic!r}: expected a name, or "
                '{ name = "...", url = "https://..." }.'
            )
    return sponsors


def _build_aliases(path: Path, raw: Any) -> dict[str, str]:
    """[topics] maps a feed's category to one of the newsletter's topics."""
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in raw.items()
    ):
        raise ConfigError(
            f'{path}: [topics] must map feed categories to topic names, like "dnssec" = "DNS".'
        )
    return {k.strip().lower(): v.strip() for k, v in raw.items()}


def _is_http_url(url: str) -> bool:
    return re.match(r"^https?://[^/\s]+", url) is not None and not re.search(r"\s", url)


MIN_SECRET_CHARS = 32  # the signing key of every link; 32 url-safe characters ~ 190 bits
# A signing key for outbox-only runs, so the demo works with no setup. It is published:
# links signed with it can be forged by anyone, so nothing that reaches real readers
# (SMTP sends, `serve`, `process-mail`) takes it.
DEVELOPMENT_SECRET = "digest-development-key-not-secret"
MAKE_A_SECRET = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def require_real_secret(config: Config, what: str) -> None:
    """ConfigError unless DIGEST_SECRET is set and is not the published development key."""
    if not config.secret:
        raise ConfigError(
            f"DIGEST_SECRET is not set. {what} needs it: set it in the environment to a "
            f"long random string (e.g. `{MAKE_A_SECRET}`), the same everywhere digest runs."
        )
    if config.secret == DEVELOPMENT_SECRET:
        raise ConfigError(
            f"DIGEST_SECRET is the published development key, which anyone can use to "
            f"forge links. {what} needs a secret of your own: `{MAKE_A_SECRET}`."
        )


def _check_values(c: Config) -> None:
    where = str(c.path)

    def bad(section: str, key: str, value: Any, form: str) -> ConfigError:
        env = f"{ENV_PREFIX}{section.upper()}_{key.upper()}"
        return ConfigError(f"[{section}] {key} = {value!r} in {where} or {env}: expected {form}.")

    if c.secret and len(c.secret) < MIN_SECRET_CHARS:
        raise ConfigError(
            f"DIGEST_SECRET is {len(c.secret)} characters long; use at least "
            f"{MIN_SECRET_CHARS} random ones, e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`. Links signed with a short key can be forged."
        )
    n = c.newsletter
    if not n.name.strip():
        raise bad("newsletter", "name", n.name, "the newsletter's name")
    if "@" not in parseaddr(n.sender)[1]:
        raise bad("newsletter", "from", n.sender, 'an address like "Name <news@example.com>"')
    if not _is_http_url(n.base_url):
        raise bad("newsletter", "base_url", n.base_url, "an absolute http(s) URL")
    try:
        ZoneInfo(n.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise bad(
            "newsletter", "timezone", n.timezone, 'an IANA zone like "Europe/Berlin"'
        ) from None
    if c.smtp.tls not in TLS_MODES:
        raise bad("smtp", "tls", c.smtp.tls, "one of " + ", ".join(TLS_MODES))
    if c.smtp.host:
        parse_relays(c.smtp.host, c.smtp.port)
    if c.smtp.return_path and "@" not in parseaddr(c.smtp.return_path)[1]:
        raise bad("smtp", "return_path", c.smtp.return_path, "an address like bounces@example.com")
    if c.imap.tls not in TLS_MODES:
        raise bad("imap", "tls", c.imap.tls, "one of " + ", ".join(TLS_MODES))
    if not 1 <= c.imap.port <= 65535:
        raise bad("imap", "port", c.imap.port, "a port from 1 to 65535")
    if c.signup.store_ip not in STORE_IP_MODES:
        raise bad("signup", "store_ip", c.signup.store_ip, "one of " + ", ".join(STORE_IP_MODES))
    for key in ("max_per_address_per_day", "max_per_ip_per_hour"):
        if getattr(c.signup, key) < 1:
            raise bad("signup", key, getattr(c.signup, key), "a whole number of at least 1")
    if c.signup.confirm_hours <= 0:
        raise bad("signup", "confirm_hours", c.signup.confirm_hours, "a positive number of hours")
    if not 0 <= c.signup.answer_seconds <= 10:
        raise bad("signup", "answer_seconds", c.signup.answer_seconds, "0 to 10 seconds")
    for origin in c.web.origins:
        if not re.fullmatch(r"https?://[^/\s]+", origin):
            raise bad("web", "origins", origin, 'origins like "https://www.example.com"')
    _check_archive(c)
    try:
        c.digest.greeting.format(first_name="Ann", name="Ann Lee")
    except (KeyError, IndexError, ValueError) as e:
        raise bad(
            "digest", "greeting", c.digest.greeting, "text with {first_name} or {name}"
        ) from e
    if c.dkim.domain and not (c.dkim.selector and c.dkim.private_key):
        raise ConfigError(
            f"[dkim] domain is set in {where} but the selector or DIGEST_DKIM_PRIVATE_KEY "
            "(the PEM private key) is missing: set both, or empty [dkim] domain to not sign."
        )
    for key in ("soft_limit", "probe_days", "max_message_kb"):
        if getattr(c.bounces, key) < 1:
            raise bad("bounces", key, getattr(c.bounces, key), "a whole number of at least 1")
    if not 1 <= c.smtp.port <= 65535:
        raise bad("smtp", "port", c.smtp.port, "a port from 1 to 65535")
    for key in ("concurrency", "max_per_connection"):
        if getattr(c.smtp, key) < 1:
            raise bad("smtp", key, getattr(c.smtp, key), "a whole number of at least 1")
    if c.smtp.retries < 0:
        raise bad("smtp", "retries", c.smtp.retries, "a whole number of at least 0")
    for key in ("rate", "rate_per_hour"):
        if getattr(c.smtp, key) < 0:
            raise bad("smtp", key, getattr(c.smtp, key), "0 (no limit) or a positive number")
    for key in ("connect_timeout", "timeout", "data_timeout", "dot_timeout"):
        if getattr(c.smtp, key) <= 0:
            raise bad("smtp", key, getattr(c.smtp, key), "a positive number of seconds")
    if c.smtp.stop_after_refusals < 1:
        raise bad(
            "smtp",
            "stop_after_refusals",
            c.smtp.stop_after_refusals,
            "a whole number of at least 1",
        )
    if c.schedule.day.lower() not in WEEKDAYS:
        raise bad("schedule", "day", c.schedule.day, "one of " + ", ".join(WEEKDAYS))
    if c.schedule.min_articles < 1 or c.schedule.approve_after_hours < 0:
        key = "min_articles" if c.schedule.min_articles < 1 else "approve_after_hours"
        raise bad("schedule", key, getattr(c.schedule, key), "a number of at least 1 (or 0 hours)")
    if c.schedule.hold and not c.schedule.editors:
        raise bad(
            "schedule",
            "editors",
            [],
            'the addresses that get the held test copy, like ["desk@example.com"]',
        )
    if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", c.schedule.time):
        raise bad("schedule", "time", c.schedule.time, 'a 24-hour time like "07:00"')
    for key in ("max_articles", "max_per_section"):
        if getattr(c.digest, key) < 1:
            raise bad("digest", key, getattr(c.digest, key), "a whole number of at least 1")
    if c.feeds.timeout <= 0 or c.feeds.max_bytes < 1024:
        key = "timeout" if c.feeds.timeout <= 0 else "max_bytes"
        form = "a positive number of seconds" if key == "timeout" else "at least 1024 bytes"
        raise bad("feeds", key, getattr(c.feeds, key), form)
    if c.digest.max_message_kb < 20:
        raise bad("digest", "max_message_kb", c.digest.max_message_kb, "at least 20 (KB)")
    if c.digest.excerpt_chars < 40:
        raise bad("digest", "excerpt_chars", c.digest.excerpt_chars, "at least 40 characters")
    _check_subject(c, bad)


def _check_archive(c: Config) -> None:
    """The archive folder is served to the world: it must not hold the store (and its
    WAL files) or the outbox (every reader's copy, tokens and all)."""
    archive = c.archive_path
    for what, path in (("the store", c.store_path.parent), ("the outbox", c.outbox_path)):
        if path == archive or archive in path.parents:
            raise ConfigError(
                f"[archive] path = {c.archive.path!r} in {c.path} holds {what} ({path}): "
                "`digest serve` publishes that folder. Give the archive a folder of its own, "
                'like "../var/archive".'
            )


def _check_subject(c: Config, bad: Any) -> None:
    try:
        c.digest.subject.format(name="", week_label="", week="", count=0, top_title="")
    except (KeyError, IndexError, ValueError) as e:
        form = "a text using only {name}, {week_label}, {week}, {count}, {top_title}"
        raise bad("digest", "subject", c.digest.subject, form) from e
