"""The relays of `[smtp] host`: one or more, each host or host:port, parsed once."""

from __future__ import annotations

import re
from dataclasses import dataclass

from digest.errors import ConfigError


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
