"""The circuit breaker for refusals of readers' addresses: when a refusal is evidence
about one address, and when it is the relay's (or the provider's) own set-up.

A relay that answers "550 5.1.1 User unknown" to every recipient is mis-set (a Postfix
relay whose `relay_domains` or `local_recipient_maps` leaves the readers' domains out is
the commonest case), and taking the list off on its word would lose every reader. One
refusal says something about one address only when the same relay delivers to others.
So an address refusal is held (the delivery stays open, the reader untouched) until the
run has shown that evidence, and it is judged with the whole run in view:

- a refusal bounces its reader only when the relay accepted recipients in this run (or
  delivered this edition earlier, for a resume with only refused readers left) and it
  refused fewer readers than it accepted;
- the run stops at once, holding every refusal, when `trip_after` refusals come in a
  row with no recipient accepted between and either nothing was accepted yet in this run
  or they span more than one domain with the same words (a table, not a mailbox, is
  speaking), or when refusals reach `trip_after` and outnumber what was accepted.

A real list's addresses are overwhelmingly deliverable (a hard-bounce rate of a few per
cent is already a list in trouble), so refusals that outnumber deliveries, or a run of
them across domains with the same words, are not about the readers.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

_ADDRESSES = re.compile(r"<[^>]*>|[^\s<>\"']+@[^\s<>\"']+")


def same_words(text: str) -> str:
    """A refusal's words without the addresses it quotes: what a table says to all."""
    return " ".join(_ADDRESSES.sub("", text).lower().split())


def domain_of(address: str) -> str:
    """The domain of a recipient, lower-cased."""
    return address.rpartition("@")[2].lower()


@dataclass
class Breaker:
    """Counts what the relay accepted and refused in one run, and judges refusals.

    ``trip_after`` is `[smtp] stop_after_refusals`; ``delivered_before`` the messages of
    this edition delivered by earlier runs."""

    trip_after: int
    delivered_before: int = 0
    accepted: int = 0  # recipients accepted in this run
    refused: int = 0  # address refusals in this run
    streak: list[tuple[str, str]] = field(default_factory=list)  # (domain, words) in a row
    tripped: str = ""  # why the breaker stopped the run

    def delivered(self) -> None:
        """A recipient was accepted: the relay delivers to others."""
        self.accepted += 1
        self.streak.clear()

    def refusal(self, recipient: str, words: str) -> str:
        """An address refusal; why the run must stop now (it is the relay's), or ""."""
        self.refused += 1
        self.streak.append((domain_of(recipient), same_words(words)))
        if not self.tripped:
            self.tripped = self._why_trip(words)
        return self.tripped

    def _why_trip(self, words: str) -> str:
        if len(self.streak) >= self.trip_after:
            if self.accepted == 0:
                return (
                    f"the relay refused the first {len(self.streak)} recipients it was "
                    f"given as unknown addresses and accepted none, the last with {words}"
                )
            by_words: dict[str, set[str]] = defaultdict(set)
            for domain, said in self.streak:
                by_words[said].add(domain)
            if any(len(domains) > 1 for domains in by_words.values()):
                return (
                    f"the relay refused {len(self.streak)} recipients in a row at "
                    f"{len(set().union(*by_words.values()))} domains with the same words, "
                    f"accepting none between, the last with {words}"
                )
        if self.refused >= self.trip_after and self.refused > self.evidence:
            return (
                f"the relay refused {self.refused} recipients as unknown addresses and "
                f"delivered to {self.accepted}: most of the list cannot be gone, the last "
                f"refusal was {words}"
            )
        return ""

    @property
    def evidence(self) -> int:
        """Deliveries that show the relay delivers: this run's and this edition's."""
        return self.accepted + self.delivered_before

    def verdict(self) -> str:
        """At the end of the run: "" when the held refusals are each about their address
        (they bounce), else why they are held (the run stops)."""
        if self.tripped:
            return self.tripped
        if self.refused and self.evidence == 0:
            return (
                f"the relay refused {_all(self.refused)} it was given as unknown "
                "addresses and accepted none"
            )
        if self.refused > self.evidence:
            return (
                f"the relay refused {self.refused} recipients as unknown addresses and "
                f"delivered to {self.accepted}: most of the list cannot be gone"
            )
        return ""


def _all(count: int) -> str:
    return "the one recipient" if count == 1 else f"all {count} recipients"
