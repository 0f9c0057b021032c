"""The CLI's frame: the top-level group, the shared options, JSON output, the clock.

Exit codes: 0 done, 1 a run error (config, data, delivery failures), 2 usage.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import sys
import textwrap
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import click
from sqlite_utils import Database

from digest import store
from digest.config import Config, config_path, load_config
from digest.errors import DigestError, WeekError
from digest.models import Clock

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("digest")


@dataclass
class Context:
    """What every command needs: where the config is, how loud to be, and the clock."""

    config_file: str | None
    verbose: bool
    clock: Clock = field(default=lambda: datetime.now(UTC))

    def now(self) -> datetime:
        """The one clock the commands read; stages get the time passed in."""
        return self.clock()

    def config(self) -> Config:
        """The loaded, validated configuration."""
        return load_config(config_path(self.config_file, os.environ))

    def store(self, config: Config) -> Database:
        """The store named by the configuration."""
        return store.open_store(config.store_path)

    def actor(self) -> Any:
        """Who the audit log names for this command: ``cli:<user>``."""
        from digest.staff.audit import cli_actor

        return cli_actor()


def _clock(given: object) -> Clock:
    """The clock of this invocation: one a caller handed in (``cli(obj=clock)``, as the
    tests do), else ``DIGEST_NOW`` (an ISO 8601 time, for rehearsals and tests that run
    digest as a process; said on stderr), else the real one."""
    if callable(given):
        return given
    fixed = os.environ.get("DIGEST_NOW", "").strip()
    if not fixed:
        return lambda: datetime.now(UTC)
    try:
        at = datetime.fromisoformat(fixed)
    except ValueError as e:
        raise click.UsageError(
            f"DIGEST_NOW={fixed!r} is not an ISO 8601 time: unset it, or give one such as "
            "2026-11-25T12:00:00+00:00"
        ) from e
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    click.echo(f"DIGEST_NOW is set: acting as if it were {at.isoformat()}", err=True)
    started = time.monotonic()
    return lambda: at + timedelta(seconds=time.monotonic() - started)  # time still passes


class DigestGroup(click.Group):
    """Turns DigestError into 'Error: ...' and exit 1 (a bad --week is a usage error,
    exit 2); a traceback only with -v."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WeekError as e:
            raise click.UsageError(str(e), ctx) from e
        except sqlite3.Error as e:  # a store failure no use case wrapped: still no traceback
            raise click.ClickException(
                f"The store could not be read or written: {e}. Check [store] path, free "
                "disk space, and that no other program holds the database."
            ) from e
        except DigestError as e:
            if ctx.find_object(Context) and ctx.find_object(Context).verbose:  # type: ignore[union-attr]
                traceback.print_exc()
            raise click.ClickException(str(e)) from e


def emit(data: dict[str, Any]) -> None:
    """Print one JSON object on stdout, and nothing else."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def emit_list(key: str, items: Iterable[Any]) -> None:
    """Print ``{key: [items]}`` as `emit` would, an item at a time (a list of any
    length in flat memory)."""
    first = True
    for item in items:
        text = json.dumps(item, indent=2, ensure_ascii=False, default=str)
        click.echo(("{\n" + f"  {json.dumps(key)}: [\n" if first else ",\n"), nl=False)
        click.echo(textwrap.indent(text, "    "), nl=False)
        first = False
    click.echo(f"{{\n  {json.dumps(key)}: []\n}}" if first else "\n  ]\n}")


@click.group(cls=DigestGroup)
@click.option(
    "--config",
    "config_file",
    metavar="PATH",
    help="Config file (default: $DIGEST_CONFIG, then config/digest.toml).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log progress and show tracebacks.")
@click.version_option(package_name="digest")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, verbose: bool) -> None:
    """digest: a weekly newsletter of what your publication published."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    ctx.obj = Context(config_file, verbose, _clock(ctx.obj))


pass_context = click.make_pass_decorator(Context)


def week_option(f: F) -> F:
    """--week YYYY-Www."""
    return click.option(
        "--week",
        metavar="YYYY-Www",
        help="ISO week in the newsletter's timezone (default: the last complete week).",
    )(f)


def json_option(f: F) -> F:
    """--json."""
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")(f)


def say(as_json: bool, data: dict[str, Any], line: str) -> None:
    """Print ``data`` as JSON with --json, else ``line``."""
    if as_json:
        emit(data)
    else:
        click.echo(line)


def main() -> None:
    """The console-script entry point."""
    cli(prog_name="digest")


def returned_note(back: dict[str, int], lead: str) -> str:
    """' <lead> 1 hard, 2 soft bounces, 0 complaints' when anything came back, else ''."""
    if not any(back.values()):
        return ""
    return (
        f"{lead}{back['hard_bounces']} hard, {back['soft_bounces']} soft bounces, "
        f"{back['complaints']} complaints"
    )


class ShardParam(click.ParamType):  # type: ignore[type-arg]
    """`--shard i/n` as a pair of numbers (the use case checks 1 <= i <= n)."""

    name = "i/n"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(value))
        if not found:
            self.fail(f"{value!r}: expected i/n, like 1/2.", param, ctx)
        return int(found.group(1)), int(found.group(2))


SHARD = ShardParam()
