"""The list's reputation, guarded per receiving provider group.

Gmail's bulk-sender rule is a spam rate below 0.1%, never 0.3%; Yahoo's and Microsoft's
are alike. After each edition digest knows, per group of receiving providers (Gmail,
Yahoo and AOL, Outlook and Hotmail, everyone else) and over the copies the relay or
provider accepted for that group, how many readers were proven hard bounces and how
many complained (returned mail, ARF reports, provider webhooks: the subscriber events of
that edition). A group that accepted fewer than `[reputation] min_delivered` copies
never counts. When the last edition reached a hold rate in a group, the next scheduled
run holds its edition for the editors (as `[schedule] hold` does); at a refuse rate,
`send` refuses without --force. Both say which group, edition, rule and rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from sqlite_utils import Database

from digest import store
from digest.config import Config
from digest.errors import ReputationError
from digest.models import SOFT_LIMIT_DETAIL

# Each group, what it is called, and the receiving domains it takes (the domain itself,
# or any country domain of the name: yahoo.co.uk, hotmail.fr).
GROUPS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "gmail": ("gmail.com/googlemail.com", ("gmail.com", "googlemail.com"), ()),
    "yahoo": (
        "Yahoo/AOL",
        ("ymail.com", "rocketmail.com", "aim.com", "verizon.net"),
        ("yahoo", "aol"),
    ),
    "outlook": (
        "Outlook/Hotmail/Live",
        ("msn.com", "passport.com", "windowslive.com"),
        ("outlook", "hotmail", "live"),
    ),
    "other": ("other providers", (), ()),
}


def provider_group(domain: str) -> str:
    """The group a recipient's domain belongs to: gmail, yahoo, outlook or other."""
    domain = domain.lower().rstrip(".")
    name = domain.split(".", 1)[0]
    for group, (_, domains, names) in GROUPS.items():
        if domain in domains or (name in names and "." in domain):
            return group
    return "other"


@dataclass(frozen=True)
class GroupCounts:
    """One edition's copies accepted for one provider group, and what came back."""

    group: str
    accepted: int = 0
    hard_bounces: int = 0
    complaints: int = 0

    def rate(self, what: str) -> Fraction:
        """Complaints or hard bounces per copy accepted (0 when none was)."""
        count = self.complaints if what == "complaints" else self.hard_bounces
        return Fraction(count, self.accepted) if self.accepted else Fraction(0)

    def as_dict(self) -> dict[str, int]:
        """The `status --json` entry."""
        return {
            "accepted": self.accepted,
            "hard_bounces": self.hard_bounces,
            "complaints": self.complaints,
        }


def edition_groups(db: Database, edition_id: int) -> dict[str, GroupCounts]:
    """Every provider group's accepted copies, hard bounces and complaints for one
    edition (soft bounces that reached the soft limit are no hard bounces)."""
    counts: dict[str, dict[str, int]] = {g: {} for g in GROUPS}
    sources = {
        "accepted": store.accepted_by_domain(db, edition_id),
        "hard_bounces": store.returned_by_domain(db, edition_id, "bounced", SOFT_LIMIT_DETAIL),
        "complaints": store.returned_by_domain(db, edition_id, "complaint"),
    }
    for what, by_domain in sources.items():
        for domain, n in by_domain.items():
            group = counts[provider_group(domain)]
            group[what] = group.get(what, 0) + n
    return {g: GroupCounts(g, **c) for g, c in counts.items()}


@dataclass(frozen=True)
class Breach:
    """One group of one edition past one rule."""

    week: str
    group: str
    what: str  # "complaints" or "hard bounces"
    rate: Fraction
    limit: float  # percent
    accepted: int
    level: str  # "hold" or "refuse"

    def describe(self) -> str:
        """Which group, edition, rule and rate, in one sentence."""
        name = GROUPS[self.group][0]
        return (
            f"{self.week} reached {float(self.rate * 100):.2f}% {self.what} among the "
            f"{self.accepted:,} copies {name} accepted ({self.level} at {self.limit:g}%, "
            f"[reputation] {_KEYS[(self.what, self.level)]})"
        )

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "week": self.week,
            "group": self.group,
            "rule": _KEYS[(self.what, self.level)],
            "rate_percent": round(float(self.rate * 100), 4),
            "limit_percent": self.limit,
            "accepted": self.accepted,
        }


_KEYS = {
    ("complaints", "hold"): "complaint_hold",
    ("hard bounces", "hold"): "bounce_hold",
    ("complaints", "refuse"): "complaint_refuse",
    ("hard bounces", "refuse"): "bounce_refuse",
}


@dataclass(frozen=True)
class Verdict:
    """What the guard says of the next edition, judging the last one before it."""

    judged: str = ""  # the week of the edition judged; "" when there is none
    breaches: tuple[Breach, ...] = ()

    @property
    def holds(self) -> bool:
        """The next scheduled edition waits for `digest approve`."""
        return bool(self.breaches)

    @property
    def refuses(self) -> bool:
        """`send` refuses without --force."""
        return any(b.level == "refuse" for b in self.breaches)

    def describe(self) -> str:
        """Every breach, the worst first."""
        return "; ".join(b.describe() for b in self.breaches)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "judged": self.judged,
            "holds": self.holds,
            "refuses": self.refuses,
            "breaches": [b.as_dict() for b in self.breaches],
        }


def verdict_before(config: Config, db: Database, week: str) -> Verdict:
    """The guard's verdict on sending ``week``: the newest edition before it, per group
    with at least `min_delivered` copies accepted, against the hold and refuse rates."""
    last = store.edition_before(db, week)
    if last is None:
        return Verdict()
    settings = config.reputation
    rules = [
        ("complaints", "refuse", settings.complaint_refuse),
        ("hard bounces", "refuse", settings.bounce_refuse),
        ("complaints", "hold", settings.complaint_hold),
        ("hard bounces", "hold", settings.bounce_hold),
    ]
    breaches = []
    for counts in edition_groups(db, last.id).values():
        if counts.accepted < settings.min_delivered:
            continue  # too few copies for a rate to mean anything
        found = set()
        for what, level, limit in rules:
            rate = counts.rate(what)
            if what not in found and rate * 100 >= Fraction(str(limit)):
                found.add(what)  # the refuse rule, if reached, names it; not both
                breaches.append(
                    Breach(last.week, counts.group, what, rate, limit, counts.accepted, level)
                )
    breaches.sort(key=lambda b: (b.level != "refuse", -b.rate))
    return Verdict(last.week, tuple(breaches))


def check_reputation(config: Config, db: Database, week: str) -> None:
    """ReputationError when the last edition before ``week`` reached a refuse rate."""
    verdict = verdict_before(config, db, week)
    if verdict.refuses:
        raise ReputationError(
            f"Not sending {week}: {verdict.describe()}. Mailbox providers throttle or "
            "junk a list past these rates: find out why first (`digest status --json` "
            "shows each group), then send with --force."
        )
