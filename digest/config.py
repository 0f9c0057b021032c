"""Configuration: defaults here, the user's TOML file over them, the environment last.

Every setting is declared once, below, with its default, its documentation and its rule
(bounds, choices, or a check with the form it expects); one validator reads those rules,
and the README's tables are made from the same declarations (`settings_reference`).
Every setting can be overridden as ``DIGEST_<SECTION>_<KEY>``; an empty variable counts
as unset. Secrets come only from the environment. Paths in the file are relative to the
file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import tomllib
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digest.addresses import normalize_email
from digest.errors import ConfigError, RowError
from digest.language import is_language_tag
from digest.models import Sponsor, ascii_slug, slugify
from digest.relays import parse_relays

DEFAULT_PATH = Path("config") / "digest.toml"
ENV_PREFIX = "DIGEST_"
TLS_MODES = ("none", "starttls", "tls")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
STORE_IP_MODES = ("hash", "raw", "none")


# ---------------------------------------------------------------- how a setting is declared


@dataclass(frozen=True)
class Rule:
    """What a setting may be, and how to say what was expected."""

    doc: str
    low: float | None = None  # inclusive
    high: float | None = None  # inclusive
    above: float | None = None  # exclusive: "a positive number" is above=0
    choices: tuple[str, ...] = ()
    check: Callable[[Any], bool] | None = None
    form: str = ""  # what the error says was expected; made from the rule when empty
    secret: bool = False  # from the environment only


def setting(default: Any, doc: str, **rule: Any) -> Any:
    """A declared setting: its default, its documentation and its rule (see `Rule`)."""
    return field(default=default, metadata={"rule": Rule(doc, **rule)})


def _rule(f: dataclasses.Field[Any]) -> Rule:
    rule = f.metadata.get("rule")
    assert isinstance(rule, Rule), f"{f.name} is not declared with setting()"
    return rule


def _is_http_url(url: str) -> bool:
    return re.match(r"^https?://[^/\s]+", url) is not None and not re.search(r"\s", url)


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _formats(**names: Any) -> Callable[[str], bool]:
    def check(text: str) -> bool:
        try:
            text.format(**names)
        except (KeyError, IndexError, ValueError):
            return False
        return True

    return check


def _is_address(value: str) -> bool:
    """A From or return path whose address a provider or relay will take: well-formed
    (email_validator's syntax rules, no DNS), not just "something with an @". Only the
    syntax counts: an internal relay may well send from a `.local` or `.test` domain."""
    address = parseaddr(value)[1]
    try:
        normalize_email(address)
    except RowError as e:
        return "special-use or reserved name" in e.reason
    return bool(address)


def _address_or_empty(value: str) -> bool:
    return not value or _is_address(value)


def _relays_or_empty(value: str) -> bool:
    if value:
        parse_relays(value, 25)  # raises its own error, naming the relay
    return True


def _origins(values: tuple[str, ...]) -> bool:
    return all(re.fullmatch(r"https?://[^/\s]+", v) for v in values)


# ---------------------------------------------------------------- the sections


@dataclass(frozen=True)
class NewsletterConfig:
    """Who sends the newsletter and where its pages live."""

    name: str = setting("The Weekly Wrap", "the newsletter's name", check=bool, form="its name")
    sender: str = setting(
        "The Weekly Wrap <wrap@example.com>",
        "the From line",
        check=_is_address,
        form='an address like "Name <news@example.com>"',
    )
    base_url: str = setting(
        "https://news.example.com/digest",
        "where the unsubscribe, sign-up and archive pages live",
        check=_is_http_url,
        form="an absolute http(s) URL",
    )
    timezone: str = setting(
        "UTC",
        "the newsletter's week runs in it (IANA name)",
        check=_is_zone,
        form='an IANA zone like "Europe/Berlin"',
    )
    postal_address: str = setting("", "the sender's postal address, in every footer (required)")
    reply_to: str = setting("", "a Reply-To address", check=_address_or_empty, form="an address")
    unsubscribe_mailto: str = setting(
        "", "the address of mailto unsubscribe requests; default unsubscribe@<From's domain>"
    )
    language: str = setting(
        "en",
        "the edition's language (BCP 47): its lang, dates and the templates' own words",
        check=is_language_tag,
        form='a BCP 47 tag like "en", "pt-BR" or "ja"',
    )


@dataclass(frozen=True)
class StoreConfig:
    """Where the SQLite store lives."""

    path: str = setting("../var/digest.db", "the SQLite file")


@dataclass(frozen=True)
class OutboxConfig:
    """Where .eml files go when no SMTP host is set."""

    path: str = setting("../var/outbox", "the folder of .eml files when `[smtp] host` is empty")


@dataclass(frozen=True)
class ArchiveConfig:
    """Where the web versions of sent editions, their index and Atom feed are written."""

    path: str = setting(
        "../var/archive", "web versions, index and Atom feed; never the store's or outbox's folder"
    )
    noindex: bool = setting(
        False, "ask search engines not to index the web versions (and write no sitemap.xml)"
    )


@dataclass(frozen=True)
class TemplatesConfig:
    """Where the email templates live; the packaged copy is used when this is missing."""

    path: str = setting("../templates/email", "the email templates; else the packaged ones")


@dataclass(frozen=True)
class SmtpConfig:
    """The relay; an empty host means: write to the outbox instead."""

    host: str = setting(
        "",
        "the relay (several: `a, b:2525`); empty = the outbox",
        check=_relays_or_empty,
        form="host or host:port, a comma between relays",
    )
    port: int = setting(587, "the relay's port", low=1, high=65535, form="a port from 1 to 65535")
    tls: str = setting("starttls", "none, starttls or tls", choices=TLS_MODES)
    username: str = setting("", "the relay login (the password: DIGEST_SMTP_PASSWORD)")
    concurrency: int = setting(4, "persistent connections", low=1)
    rate: float = setting(0.0, "messages per second over all connections; 0 = no limit", low=0)
    rate_per_hour: float = setting(0.0, "for relays with an hourly quota; 0 = none", low=0)
    connect_timeout: float = setting(
        30.0, "seconds for connect, TLS, greeting, EHLO, login", above=0
    )
    timeout: float = setting(300.0, "seconds for the reply to MAIL and RCPT (RFC 5321)", above=0)
    data_timeout: float = setting(120.0, "seconds for the 354 after DATA", above=0)
    dot_timeout: float = setting(600.0, "seconds for the reply to the final dot", above=0)
    stop_after_refusals: int = setting(
        5, "relay refusals in a row that stop the run; the address-refusal breaker's count", low=1
    )
    max_per_connection: int = setting(1000, "messages before a connection is renewed", low=1)
    retries: int = setting(3, "tries again of a 4xx within one run", low=0)
    ca_file: str = setting("", "a PEM CA bundle for a relay with a private certificate")
    password: str = setting("", "the relay login's password", secret=True)
    return_path: str = setting(
        "",
        "the envelope sender bounces go to (set: VERP); default the From address",
        check=_address_or_empty,
        form="an address like bounces@example.com",
    )


@dataclass(frozen=True)
class PrivacyConfig:
    """What digest keeps about people."""

    forget: str = setting(
        "hash",
        "what `subscribers remove --forget` keeps: hash (a keyed hash of the mailbox on "
        "the suppression list, so no import brings the person back) or nothing",
        choices=("hash", "nothing"),
    )


TRANSPORTS = ("smtp", "ses", "mailgun")
PROVIDERS = ("", "ses", "postmark", "sendgrid", "mailgun")


@dataclass(frozen=True)
class DeliveryConfig:
    """How editions leave: over SMTP (the outbox without [smtp] host) or a provider's API."""

    transport: str = setting(
        "smtp",
        "smtp (the relay of [smtp], or the outbox without a host), ses (Amazon SES v2 "
        "API) or mailgun (Mailgun's API)",
        choices=TRANSPORTS,
    )
    provider: str = setting(
        "",
        "the provider behind [smtp] host, when it is one: postmark needs it to tie its "
        "webhook events to messages (a metadata header); ses, sendgrid or mailgun: none",
        choices=PROVIDERS,
    )
    webhook_max_age: int = setting(
        600, "seconds a signed webhook request stays valid (replay window)", low=30
    )


@dataclass(frozen=True)
class SesConfig:
    """Amazon SES: the API transport and its SNS events. AWS credentials, region and
    endpoint come from the AWS environment (AWS_ACCESS_KEY_ID, AWS_REGION,
    AWS_ENDPOINT_URL...), as boto3 reads them."""

    region: str = setting("", "the SES region; default AWS_REGION or AWS_DEFAULT_REGION")
    configuration_set: str = setting(
        "", "the configuration set each message names (its event destinations)"
    )
    rate: float = setting(14.0, "messages per second, SES's maximum send rate", low=0)
    concurrency: int = setting(10, "API calls at once", low=1, high=100)
    topic_arns: tuple[str, ...] = setting(
        (),
        "the SNS topics whose notifications /webhooks/ses takes (others are refused)",
        check=lambda arns: all(a.startswith("arn:aws") and ":sns:" in a for a in arns),
        form='a list of SNS topic ARNs, like ["arn:aws:sns:us-east-1:123456789012:ses"]',
    )


@dataclass(frozen=True)
class MailgunConfig:
    """Mailgun: the API transport (raw MIME) and its webhook events."""

    domain: str = setting("", "the Mailgun sending domain (mg.example.com)")
    base_url: str = setting(
        "https://api.mailgun.net",
        "the API's base URL; https://api.eu.mailgun.net for the EU region",
        check=_is_http_url,
        form="an absolute http(s) URL",
    )
    rate: float = setting(0.0, "messages per second, 0 = no limit", low=0)
    concurrency: int = setting(8, "API calls at once", low=1, high=100)
    api_key: str = setting("", "the sending API key", secret=True)
    signing_key: str = setting("", "the HTTP webhook signing key (/webhooks/mailgun)", secret=True)


@dataclass(frozen=True)
class SendgridConfig:
    """SendGrid's signed event webhook (send through its SMTP relay with [smtp])."""

    webhook_key: str = setting(
        "", "the event webhook's verification key (base64 ECDSA public key)", secret=True
    )


@dataclass(frozen=True)
class PostmarkConfig:
    """Postmark's webhooks (send through its SMTP relay with [smtp])."""

    webhook_password: str = setting(
        "", "the basic-auth password in the webhook URL (/webhooks/postmark)", secret=True
    )


@dataclass(frozen=True)
class SignupConfig:
    """Readers who sign themselves up on /subscribe, with double opt-in."""

    confirm_hours: float = setting(48.0, "how long a confirmation link works", above=0)
    max_per_address_per_day: int = setting(3, "sign-up emails to one mailbox", low=1)
    max_per_ip_per_hour: int = setting(20, "sign-ups from one client (IPv4, IPv6 /64)", low=1)
    store_ip: str = setting(
        "hash", "the client in the consent record: hash (keyed), raw, none", choices=STORE_IP_MODES
    )
    client_ip_header: str = setting("", "behind a proxy: the header it sets, e.g. X-Forwarded-For")
    welcome: bool = setting(False, "a welcome email after the confirmation")
    answer_seconds: float = setting(
        0.25, "every sign-up is answered no sooner (the state never shows)", low=0, high=10
    )


@dataclass(frozen=True)
class WebConfig:
    """Who may talk to `digest serve`: the Host names it answers, the Origins it takes
    state-changing forms from. The host and origin of `[newsletter] base_url` (and
    localhost) always count."""

    hosts: tuple[str, ...] = setting((), "more Host names `serve` answers")
    origins: tuple[str, ...] = setting(
        (),
        'more pages that may post its forms, e.g. ["https://www.example.com"]',
        check=_origins,
        form='origins like "https://www.example.com"',
    )


@dataclass(frozen=True)
class DeskConfig:
    """The editors' desk (`digest desk`): its own server, behind a login, apart from
    the public pages of `serve`."""

    base_url: str = setting(
        "",
        "the desk's address behind the TLS proxy, e.g. https://desk.example.com "
        "(its Host is the only one it answers, with localhost)",
        check=lambda v: not v or _is_http_url(v),
        form="an http(s) URL or empty",
    )
    require_second_factor: tuple[str, ...] = setting(
        ("admin",),
        "roles that must give a TOTP code (or a passkey) after their password; [] for none",
        check=lambda roles: all(r in ("viewer", "editor", "publisher", "admin") for r in roles),
        form='roles among "viewer", "editor", "publisher", "admin"',
    )
    idle_minutes: int = setting(30, "a desk session ends after this long unused", low=1)
    max_hours: int = setting(12, "a desk session ends this long after its login", low=1)
    login_failures: int = setting(
        5, "failed logins per account (and per client network) in 15 minutes", low=1
    )


@dataclass(frozen=True)
class DkimConfig:
    """DKIM signing by digest itself (a relay that signs, like OpenDKIM, needs none)."""

    domain: str = setting("", "the d= domain; empty = do not sign")
    selector: str = setting("", "the s= selector")
    private_key: str = setting("", "the PEM private key (RSA or Ed25519)", secret=True)


@dataclass(frozen=True)
class BouncesConfig:
    """What comes back after the relay accepted a message: bounces and complaints."""

    soft_limit: int = setting(
        3, "soft bounces from this many editions make a reader bounced", low=1
    )
    maildir: str = setting("", "the return-path Maildir the weekly run reads first")
    probe_days: int = setting(30, "an unproven bounce probes a reader at most this often", low=1)
    max_message_kb: int = setting(10240, "a returned message past this is set aside", low=1)


@dataclass(frozen=True)
class ReputationConfig:
    """The complaint and bounce-rate guard, per receiving provider group (Gmail, Yahoo and
    AOL, Outlook and Hotmail, others), over the copies the relay or provider accepted."""

    min_delivered: int = setting(
        1000, "copies a group must have accepted before its rates count", low=1
    )
    complaint_hold: float = setting(
        0.1, "% complaints in a group that hold the next scheduled edition", above=0, high=100
    )
    bounce_hold: float = setting(
        2.0, "% hard bounces in a group that hold the next scheduled edition", above=0, high=100
    )
    complaint_refuse: float = setting(
        0.3, "% complaints in a group at which `send` refuses without --force", above=0, high=100
    )
    bounce_refuse: float = setting(
        5.0, "% hard bounces in a group at which `send` refuses without --force", above=0, high=100
    )


@dataclass(frozen=True)
class SunsetConfig:
    """Readers who show no sign of life (confirming, a preferences page's button, the
    "keep sending" link, a resubscribe) are asked once whether they still want the
    newsletter, and lapse without an answer. Opens are never counted: digest follows
    nobody."""

    after_editions: int = setting(
        0,
        "editions delivered to a reader with no sign of life before they are asked; "
        "0 = off (26 is half a year of a weekly)",
        low=0,
    )
    answer_days: int = setting(
        30, "days to answer the re-permission email before the reader lapses", low=1
    )
    keep_days: int = setting(
        365, 'how long its one-click "keep sending" link works (a lapsed reader\'s way back)', low=1
    )


@dataclass(frozen=True)
class ImapConfig:
    """A hosted return-path mailbox, read by `process-mail --imap` and the weekly run."""

    host: str = setting("", "the IMAP server; empty = none")
    port: int = setting(993, "its port", low=1, high=65535, form="a port from 1 to 65535")
    tls: str = setting("tls", "none, starttls or tls", choices=TLS_MODES)
    username: str = setting("", "the login (the password: DIGEST_IMAP_PASSWORD)")
    folder: str = setting("INBOX", "the folder to read")
    timeout: float = setting(30.0, "seconds per IMAP reply", above=0)
    ca_file: str = setting("", "a PEM CA bundle for a server with a private certificate")
    password: str = setting("", "the IMAP login's password", secret=True)


@dataclass(frozen=True)
class ScheduleConfig:
    """When the weekly job runs, in the newsletter's timezone."""

    day: str = setting("mon", "mon .. sun", choices=WEEKDAYS)
    time: str = setting(
        "07:00",
        "24-hour time",
        check=lambda v: bool(re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", v)),
        form='a 24-hour time like "07:00"',
    )
    misfire_grace: int = setting(3600, "seconds a late run may still start", low=0)
    skip_if_empty: bool = setting(True, "false: a week with no articles sends a short note")
    min_articles: int = setting(1, "fewer published that week: no edition", low=1)
    hold: bool = setting(False, "test copy to the editors, then wait for `digest approve`")
    editors: tuple[str, ...] = setting((), "who gets the held edition's test copy")
    approve_after_hours: float = setting(
        0.0, "with hold: send anyway after this long; 0 = never", low=0
    )


@dataclass(frozen=True)
class DigestConfig:
    """What goes into an edition."""

    max_articles: int = setting(12, "articles in a copy", low=1)
    max_per_section: int = setting(4, "articles in a section", low=1)
    max_sections: int = setting(6, 'sections in a copy, "More" included', low=1)
    excerpt_chars: int = setting(300, "the longest excerpt", low=40)
    max_message_kb: int = setting(100, "the HTML part as sent (Gmail clips past ~102 KB)", low=20)
    subject: str = setting(
        "{name}: {week_label}",
        "with {name}, {week_label}, {week}, {count}, {top_title}",
        check=_formats(name="", week_label="", week="", count=0, top_title=""),
        form="a text using only {name}, {week_label}, {week}, {count}, {top_title}",
    )
    section_order: tuple[str, ...] = setting(
        (), "the sections, in order; only these, [topics] and [sponsors] head a section"
    )
    other_section: str = setting(
        "", 'the section of articles in no configured one; default "More" in the language'
    )
    greeting: str = setting(
        "",
        "for readers whose name is known ({first_name}, else their whole name; {name}); "
        'default "Hi {first_name}," in the language',
        check=lambda v: not v or _formats(first_name="Ann", name="Ann Lee")(v),
        form="text with {first_name} or {name}",
    )
    greeting_anonymous: str = setting(
        "", 'for readers without a name; default "Hello," in the language'
    )


@dataclass(frozen=True)
class FeedsConfig:
    """How feeds are fetched."""

    timeout: float = setting(20.0, "seconds per feed", above=0)
    max_bytes: int = setting(
        10_000_000, "the largest feed read", low=1024, form="at least 1024 bytes"
    )
    user_agent: str = setting("", "default: digest/<version> (+<base_url>)")
    image_sizes: bool = setting(
        True, "read a picture's size from its first bytes when the feed does not say (HTTP)"
    )
    allow_private_addresses: bool = setting(
        False,
        "let pictures, `lint --check-links` links and redirects reach private, loopback and "
        "link-local addresses (a publication whose pictures live on its own network); "
        "cloud metadata addresses are never reached",
    )


@dataclass(frozen=True)
class ApiConfig:
    """`/api/v1` on `digest serve`: per-token limits."""

    requests_per_minute: int = setting(
        600, "requests each API token may make a minute (then 429 with Retry-After)", low=1
    )
    burst: int = setting(60, "requests a token may make at once before the rate applies", low=1)


@dataclass(frozen=True)
class WebhooksConfig:
    """Webhooks out (`digest webhooks add`): how the sender reaches the endpoints."""

    timeout: float = setting(
        15.0, "seconds per delivery attempt (the specification: 15 to 30)", above=0
    )
    allow_private_targets: bool = setting(
        False,
        "let webhook endpoints be on loopback, private or link-local addresses (a CRM on "
        "the publication's own network); cloud metadata addresses are never reached",
    )


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
    "reputation": ReputationConfig,
    "sunset": SunsetConfig,
    "imap": ImapConfig,
    "web": WebConfig,
    "delivery": DeliveryConfig,
    "privacy": PrivacyConfig,
    "ses": SesConfig,
    "mailgun": MailgunConfig,
    "sendgrid": SendgridConfig,
    "postmark": PostmarkConfig,
    "api": ApiConfig,
    "webhooks": WebhooksConfig,
    "desk": DeskConfig,
}
# TOML keys that are Python keywords or would shadow a builtin.
_KEY_ALIASES = {("newsletter", "from"): "sender"}
# Keys an earlier version took, and what to do instead.
_RETIRED_KEYS = {
    ("smtp", "verp"): "VERP is on whenever [smtp] return_path is set; remove the line",
}
# Secrets that belong to no section.
OTHER_SECRETS = {
    "DIGEST_SECRET": "signs every link, VERP address and Message-ID (HMAC-SHA256); at least "
    "32 characters. Required for SMTP sends, `serve` and `process-mail`, which refuse the "
    "published development key outbox runs use without it",
}


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
    reputation: ReputationConfig = field(default_factory=ReputationConfig)
    sunset: SunsetConfig = field(default_factory=SunsetConfig)
    dkim: DkimConfig = field(default_factory=DkimConfig)
    imap: ImapConfig = field(default_factory=ImapConfig)
    web: WebConfig = field(default_factory=WebConfig)
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    ses: SesConfig = field(default_factory=SesConfig)
    mailgun: MailgunConfig = field(default_factory=MailgunConfig)
    sendgrid: SendgridConfig = field(default_factory=SendgridConfig)
    postmark: PostmarkConfig = field(default_factory=PostmarkConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    webhooks: WebhooksConfig = field(default_factory=WebhooksConfig)
    desk: DeskConfig = field(default_factory=DeskConfig)
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
        """The List-Id value's identifier: '<name-slug>.<sender domain>', the slug in
        ASCII (RFC 2919's dot-atom); a name with nothing ASCII in it gets its topic-style
        key's hash form ('t-' and hex digits)."""
        domain = self.sender_address.rpartition("@")[2].lower()
        name = ascii_slug(self.newsletter.name)
        if not name:
            name = "t-" + hashlib.sha256(self.newsletter.name.encode()).hexdigest()[:10]
        return f"{name}.{domain}"

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
    _check_together(config)
    return config


def _build_section(path: Path, section: str, cls: type, values: Any, env: Mapping[str, str]) -> Any:
    """One section: the file's values and the environment's over the defaults, each
    coerced to its declared type and checked against its rule."""
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
            known = ", ".join(
                _toml_key(section, a) for a, f in fields.items() if not _rule(f).secret
            )
            raise ConfigError(
                f"{path}: unknown key [{section}] {toml_key}; known keys are {known}."
            )
        if _rule(fields[attr]).secret:
            raise ConfigError(
                f"{path}: [{section}] {toml_key} is a secret and must not be in a file; "
                f"remove it and set {env_name(section, attr)} in the environment."
            )
    types = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for attr, f in fields.items():
        key = _toml_key(section, attr)
        where = f"{path} or {env_name(section, attr)}"
        if env.get(env_name(section, attr), ""):
            raw, from_env = env[env_name(section, attr)], True
        elif key in values:
            raw, from_env = values[key], False
        else:
            continue
        value = _coerce(raw, types[attr], from_env)
        if value is _WRONG or not _passes(_rule(f), value):
            form = _type_form(types[attr]) if value is _WRONG else _form(_rule(f), types[attr])
            shown = raw if value is _WRONG else value  # as read: 99999, not '99999'
            raise ConfigError(f"[{section}] {key} = {shown!r} in {where}: expected {form}.")
        kwargs[attr] = value
    return cls(**kwargs)


def env_name(section: str, attr: str) -> str:
    """The environment variable of a setting: DIGEST_<SECTION>_<KEY>."""
    return f"{ENV_PREFIX}{section.upper()}_{_toml_key(section, attr).upper()}"


def _toml_key(section: str, attr: str) -> str:
    reverse = {v: k for (s, k), v in _KEY_ALIASES.items() if s == section}
    return reverse.get(attr, attr)


_WRONG = object()  # a value of the wrong type
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _coerce(value: Any, kind: Any, from_env: bool) -> Any:
    """``value`` as the declared type; `_WRONG` when it cannot be. The environment gives
    text, so there numbers, booleans and comma-separated lists are read from it."""
    text = value.strip() if from_env and isinstance(value, str) else None
    if kind is bool:
        if text is not None and text.lower() in _TRUE + _FALSE:
            return text.lower() in _TRUE
        return value if isinstance(value, bool) else _WRONG
    if kind is int:
        if text is not None and re.fullmatch(r"-?\d+", text):
            return int(text)
        return value if isinstance(value, int) and not isinstance(value, bool) else _WRONG
    if kind is float:
        if text is not None:
            try:
                return float(text)
            except ValueError:
                return _WRONG
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return float(value) if ok else _WRONG
    if kind == tuple[str, ...]:
        if text is not None:
            return tuple(v.strip() for v in text.split(",") if v.strip())
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return tuple(value) if ok else _WRONG
    return value if isinstance(value, str) else _WRONG


def _passes(rule: Rule, value: Any) -> bool:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if rule.low is not None and value < rule.low:
            return False
        if rule.high is not None and value > rule.high:
            return False
        if rule.above is not None and value <= rule.above:
            return False
    if rule.choices and str(value).lower() not in rule.choices:
        return False
    return rule.check is None or bool(rule.check(value))


def _form(rule: Rule, kind: Any) -> str:
    """What was expected, in words: the declared form, else made from the rule."""
    if rule.form:
        return rule.form
    if rule.choices:
        return "one of " + ", ".join(rule.choices)
    number = "a whole number" if kind is int else "a number"
    if rule.low is not None and rule.high is not None:
        return f"{number} from {rule.low:g} to {rule.high:g}"
    if rule.low is not None:
        return f"{number} of at least {rule.low:g}"
    if rule.above is not None:
        return f"{number} above {rule.above:g}"
    return _type_form(kind)


def _type_form(kind: Any) -> str:
    forms = {
        bool: "true or false",
        int: "a whole number",
        float: "a number",
        str: "a string in quotes",
        tuple[str, ...]: 'a list of strings, like ["DNS", "Cybersecurity"]',
    }
    return forms.get(kind, "a value of its kind")


def _build_sponsors(path: Path, raw: Any) -> dict[str, Sponsor]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [sponsors] must map topic names to sponsors.")
    sponsors: dict[str, Sponsor] = {}
    for topic, value in raw.items():
        if isinstance(value, str):
            sponsors[slugify(topic)] = Sponsor(name=value, topic=topic)
        elif isinstance(value, dict) and isinstance(value.get("name"), str):
            url = value.get("url", "")
            if not isinstance(url, str) or (url and not _is_http_url(url)):
                raise ConfigError(
                    f"{path}: [sponsors] {topic!r} url = {url!r}: expected an http(s) URL."
                )
            sponsors[slugify(topic)] = Sponsor(name=value["name"], url=url, topic=topic)
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


# ---------------------------------------------------------------- rules across settings

MIN_SECRET_CHARS = 32  # the signing key of every link; 32 url-safe characters ~ 190 bits
# A signing key for outbox-only runs, so the demo works with no setup. It is published:
# links signed with it can be forged by anyone, so nothing that reaches real readers
# (SMTP sends, `serve`, `process-mail`) takes it.
DEVELOPMENT_SECRET = "digest-development-key-not-secret"
MAKE_A_SECRET = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def _check_together(c: Config) -> None:
    """The rules that span settings: the signing key's length, DKIM's three parts, held
    editions' editors, and an archive that publishes nothing private."""
    where = str(c.path)
    if c.secret and len(c.secret) < MIN_SECRET_CHARS:
        raise ConfigError(
            f"DIGEST_SECRET is {len(c.secret)} characters long; use at least "
            f"{MIN_SECRET_CHARS} random ones, e.g. `{MAKE_A_SECRET}`. Links signed with a "
            "short key can be forged."
        )
    if c.dkim.domain and not (c.dkim.selector and c.dkim.private_key):
        raise ConfigError(
            f"[dkim] domain is set in {where} but the selector or DIGEST_DKIM_PRIVATE_KEY "
            "(the PEM private key) is missing: set both, or empty [dkim] domain to not sign."
        )
    if c.delivery.transport == "mailgun" and not (c.mailgun.domain and c.mailgun.api_key):
        raise ConfigError(
            f'[delivery] transport = "mailgun" in {where} needs [mailgun] domain (the sending '
            "domain) and DIGEST_MAILGUN_API_KEY in the environment."
        )
    if c.schedule.hold and not c.schedule.editors:
        raise ConfigError(
            f"[schedule] editors = [] in {where} or DIGEST_SCHEDULE_EDITORS: expected the "
            'addresses that get the held test copy, like ["desk@example.com"].'
        )
    _check_archive(c)


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


# ---------------------------------------------------------------- the reference


@dataclass(frozen=True)
class Declared:
    """One declared setting as the file spells it: its section, key, default and rule."""

    section: str
    key: str
    default: Any
    rule: Rule


def declared_settings() -> list[Declared]:
    """Every setting of the file, in the order declared (secrets included: their rule
    says so)."""
    return [
        Declared(section, _toml_key(section, f.name), f.default, _rule(f))
        for section, cls in _SECTIONS.items()
        for f in dataclasses.fields(cls)
    ]


def section_doc(section: str) -> str:
    """What a section of the file is for (its class's first line)."""
    return (_SECTIONS[section].__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")


TOPICS_DOC = 'a feed\'s category = a topic, e.g. `"dnssec" = "DNS"`'
SPONSORS_DOC = 'a topic = `"Sponsor"` or `{ name = "...", url = "https://..." }`'


def settings_reference() -> str:
    """The README's settings and secrets tables, made from the declarations above."""
    rows = ["| setting | default | what |", "|---|---|---|"]
    secrets = ["| variable | what |", "|---|---|"]
    secrets += [f"| `{name}` | {doc} |" for name, doc in OTHER_SECRETS.items()]
    for d in declared_settings():
        if d.rule.secret:
            secrets.append(f"| `{ENV_PREFIX}{d.section.upper()}_{d.key.upper()}` | {d.rule.doc} |")
            continue
        rows.append(f"| `[{d.section}] {d.key}` | {_shown(d.default)} | {d.rule.doc} |")
    rows.append(f"| `[topics]` | | {TOPICS_DOC} |")
    rows.append(f"| `[sponsors]` | | {SPONSORS_DOC} |")
    return "\n".join(rows) + "\n\n" + "\n".join(secrets) + "\n"


def _shown(default: Any) -> str:
    if default == "" or default == ():
        return ""
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, tuple):
        return "`[" + ", ".join(f'"{v}"' for v in default) + "]`"
    if isinstance(default, str):
        return f'`"{default}"`'
    return f"`{default:g}`" if isinstance(default, float) else f"`{default}`"
