"""The command line: each command parses its arguments, opens the config and store,
makes one library call, and prints text or --json. Exit codes: 0 done, 1 a run error
(config, data, delivery failures), 2 usage.

    app          the group, shared options, JSON output, the clock
    content      init, import, feeds, articles, excerpt
    subscribers  subscribers ...
    editions     preview, send, lint, approve, status
    service      schedule, serve, process-unsubscribes
"""

from __future__ import annotations

from digest.cli import content, editions, service, subscribers
from digest.cli.app import cli, main

__all__ = ["cli", "content", "editions", "main", "service", "subscribers"]
