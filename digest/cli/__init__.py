"""The command line: each command parses its arguments, opens the config and store,
makes one library call, and prints text or --json. Exit codes: 0 done, 1 a run error
(config, data, delivery failures), 2 usage.

    app          the group, shared options, JSON output, the clock
    content      init, import, feeds, articles, excerpt
    subscribers  subscribers ...
    editions     preview, send, lint, approve, status
    service      run, schedule, serve, process-mail, backup, restore
    access       tokens ..., webhooks ... (the API and webhooks out)
    staff        staff ..., desk, audit

Each command imports its use case inside the function, not at the top of its module:
every invocation (`digest --help` and `digest status` included) would otherwise load the
whole pipeline first (premailer, lxml, Jinja, Starlette, aiosmtplib, feedparser...).
Measured as whole processes, median of 5, on 2 cores: `import digest.cli` takes 0.29 s
of CPU and 29 MiB this way, 1.08 s and 69 MiB with every use case imported at the top.
`tests/test_cli.py` holds it: importing the CLI loads none of those libraries.
"""

from __future__ import annotations

from digest.cli import access, content, editions, service, staff, subscribers
from digest.cli.app import cli, main

__all__ = ["access", "cli", "content", "editions", "main", "service", "staff", "subscribers"]
