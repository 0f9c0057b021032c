"""The command line: each command opens the config and store, calls the library, prints.

Exit codes: 0 done, 1 a run error (config, data, delivery failures), 2 usage.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import traceback
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlite_utils import Database

from digest import store
from digest.config import Config, config_path, load_config
from digest.errors import DigestError
from digest.models import DELIVERY_STATUSES, SUBSCRIBER_STATUSES
from digest.resources import write_default_config

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("digest")


@dataclass
class Context:
    """What every command needs: where the config is, and how loud to be."""

    config_file: str | None
    verbose: bool

    def config(self) -> Config:
        """The loaded, validated configuration."""
        return load_config(config_path(self.config_file, os.environ))

    def store(self, config: Config) -> Database:
        """The store named by the configuration."""
        return store.open_store(config.store_path)


def now() -> datetime:
    """The one clock the CLI reads; stages get the time passed in."""
    return datetime.now(UTC)


class DigestGroup(click.Group):
    """Turns DigestError into 'Error: ...' and exit 1; a traceback only with -v."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DigestError as e:
            if ctx.find_object(Context) and ctx.find_object(Context).verbose:  # type: ignore[union-attr]
                traceback.print_exc()
            raise click.ClickException(str(e)) from e


def emit(data: dict[str, Any]) -> None:
    """Print one JSON object on stdout, and nothing else."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


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
    ctx.obj = Context(config_file, verbose)


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


# ---------------------------------------------------------------- init, import


@cli.command()
@click.option("--demo", is_flag=True, help="Load sample articles and subscribers.")
@pass_context
def init(obj: Context, demo: bool) -> None:
    """Create the config file (if missing) and the database; --demo adds sample data."""
    path = config_path(obj.config_file, os.environ)
    if write_default_config(path):
        click.echo(f"Wrote {path}: edit it to name your newsletter and relay.")
    config = obj.config()
    db = obj.store(config)
    click.echo(f"Store ready at {config.store_path}")
    if demo:
        from digest.demo import load_demo

        articles, subscribers = load_demo(config, db, now())
        click.echo(f"Demo data: {articles} articles and {subscribers} subscribers added.")


@cli.command("import")
@click.argument("source", required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "jsonl", "csv", "feed"]),
    default="auto",
    show_default=True,
    help="Record format; auto: URLs and .xml/.rss/.atom are feeds, else by extension.",
)
@click.option(
    "--feeds", "all_feeds", is_flag=True, help="Import every feed added with `feeds add`."
)
@json_option
@pass_context
def import_(obj: Context, source: str | None, fmt: str, all_feeds: bool, as_json: bool) -> None:
    """Add or update articles from a JSONL/CSV file, an RSS/Atom feed file or URL, or --feeds."""
    from digest.feeds import import_source

    if bool(source) == all_feeds:
        raise click.UsageError("Give one SOURCE (a file or an http(s) URL), or --feeds.")
    config = obj.config()
    result = import_source(obj.store(config), config, source, fmt, now())
    if result.file is None:
        _report_feeds(result.feeds, as_json)
        return
    report = result.file
    if as_json:
        emit(report.as_dict())
    else:
        click.echo(
            f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
            f"{report.skipped} skipped"
        )
        for err in report.errors:
            click.echo(f"  line {err['line']}: {err['reason']} ({err['value']!r})", err=True)


def _report_feeds(feeds: list[Any], as_json: bool) -> None:
    totals = {
        k: sum(getattr(f, k) for f in feeds) for k in ("added", "updated", "unchanged", "skipped")
    }
    errors = [{**e, "feed": f.source} for f in feeds for e in f.errors]
    if as_json:
        emit({**totals, "errors": errors, "feeds": [f.as_dict() for f in feeds]})
    else:
        for f in feeds:
            counts = ", ".join(f"{getattr(f, k)} {k}" for k in totals)
            click.echo(f"{f.source}: {f.status}" + (f" ({counts})" if f.status == "ok" else ""))
            if f.problem:
                click.echo(f"  {f.problem}", err=True)
        for e in errors:
            click.echo(f"  skipped {e['entry']}: {e['reason']}", err=True)
    failed = [f for f in feeds if f.status == "error"]
    if failed:
        raise click.ClickException(
            f"{len(failed)} of {len(feeds)} feeds could not be read; the others were imported."
        )


@cli.group(cls=DigestGroup)
def feeds() -> None:
    """The RSS/Atom feeds that `import --feeds` and the schedule read."""


@feeds.command("add")
@click.argument("url")
@click.option("--topic", default="", help="A topic given to every entry of this feed.")
@pass_context
def feeds_add(obj: Context, url: str, topic: str) -> None:
    """Add a feed by its http(s) URL."""
    from digest.feeds import add_feed

    config = obj.config()
    address, outcome = add_feed(obj.store(config), url, topic, now())
    click.echo(f"{address}: {outcome}")


@feeds.command("list")
@json_option
@pass_context
def feeds_list(obj: Context, as_json: bool) -> None:
    """List the feeds with how their last fetch went."""
    from digest.feeds import list_feeds

    config = obj.config()
    rows = [dict(f.__dict__) for f in list_feeds(obj.store(config))]
    if as_json:
        emit({"feeds": rows})
        return
    for r in rows:
        state = r["last_status"] or "never fetched"
        errors = (
            f", {r['error_count']} errors in a row: {r['last_error']}" if r["error_count"] else ""
        )
        click.echo(f"{r['url']}  [{r['topic'] or 'no topic'}]  {state}{errors}")


@feeds.command("remove")
@click.argument("url")
@pass_context
def feeds_remove(obj: Context, url: str) -> None:
    """Stop reading a feed (its articles stay in the store)."""
    from digest.feeds import remove_feed

    config = obj.config()
    click.echo(f"{remove_feed(obj.store(config), url)}: removed")


# ---------------------------------------------------------------- articles


@cli.group(cls=DigestGroup)
def articles() -> None:
    """What the store holds."""


@articles.command("list")
@week_option
@json_option
@pass_context
def articles_list(obj: Context, week: str | None, as_json: bool) -> None:
    """List all articles, or with --week those that week would gather, best first."""
    from digest.edition import list_articles, resolve_week

    config = obj.config()
    window = resolve_week(config, week, now()) if week else None
    found = list_articles(config, obj.store(config), window)
    rows = [
        {
            "url": a.url,
            "title": a.title,
            "published_at": a.published_at.isoformat(),
            "topics": list(a.topics),
            "author": a.author,
            "featured": a.featured,
            "score": a.score,
            "status": a.status,
        }
        for a in found
    ]
    if as_json:
        emit({"articles": rows})
        return
    for a in found:
        click.echo(f"{a.published_at.isoformat()[:16]}  {a.title}  [{', '.join(a.topics)}]")
    click.echo(f"{len(rows)} articles", err=True)


# ---------------------------------------------------------------- subscribers


@cli.group(cls=DigestGroup)
def subscribers() -> None:
    """Manage the list."""


@subscribers.command("add")
@click.argument("email")
@click.option("--name", default="", help="Display name.")
@click.option("--topics", default="", help="Comma-separated topics; empty = everything.")
@pass_context
def subscribers_add(obj: Context, email: str, name: str, topics: str) -> None:
    """Add a subscriber (or update the name and topics of an active one)."""
    from digest.subscribers import add_subscriber

    config = obj.config()
    address, outcome = add_subscriber(obj.store(config), email, name, topics, now())
    click.echo(f"{address}: {outcome}")


@subscribers.command("reactivate")
@click.argument("email")
@pass_context
def subscribers_reactivate(obj: Context, email: str) -> None:
    """Set an unsubscribed or bounced subscriber active again, on their request."""
    from digest.subscribers import reactivate_subscriber

    config = obj.config()
    reactivate_subscriber(obj.store(config), email, now())
    click.echo(f"{email}: active")


@subscribers.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@pass_context
def subscribers_import(obj: Context, file: Path, as_json: bool) -> None:
    """Import subscribers from a CSV with columns email,name,topics."""
    from digest.subscribers import import_subscribers

    config = obj.config()
    report = import_subscribers(obj.store(config), file, now())
    if as_json:
        emit(report.as_dict())
        return
    click.echo(
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.merged} duplicates merged, {report.skipped} skipped"
    )
    if report.kept:
        click.echo(
            f"{report.kept} unsubscribed or bounced addresses left as they were; "
            "use `subscribers reactivate EMAIL` for anyone who asked to return."
        )
    for err in report.errors:
        click.echo(f"  line {err['line']}: {err['reason']} ({err['value']!r})", err=True)


@subscribers.command("list")
@click.option("--status", type=click.Choice(SUBSCRIBER_STATUSES), help="Only this status.")
@json_option
@pass_context
def subscribers_list(obj: Context, status: str | None, as_json: bool) -> None:
    """List subscribers."""
    from digest.subscribers import list_subscribers

    config = obj.config()
    rows = [
        {"email": s.email, "name": s.name, "topics": list(s.topics), "status": s.status}
        for s in list_subscribers(obj.store(config), status)
    ]
    if as_json:
        emit({"subscribers": rows})
        return
    for r in rows:
        topics = ", ".join(r["topics"]) or "all topics"
        click.echo(f"{r['email']}  {r['name']}  [{topics}]  {r['status']}")


@subscribers.command("export")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--status", type=click.Choice(SUBSCRIBER_STATUSES), help="Only this status.")
@pass_context
def subscribers_export(obj: Context, file: Path, status: str | None) -> None:
    """Write the list as CSV (email,name,topics,status), safe to open in a spreadsheet."""
    from digest.subscribers import export_subscribers

    config = obj.config()
    db = obj.store(config)
    if str(file) == "-":
        count = export_subscribers(db, sys.stdout, status)
    else:
        with file.open("w", encoding="utf-8", newline="") as out:
            count = export_subscribers(db, out, status)
    click.echo(f"{count} subscribers exported", err=True)


@subscribers.command("remove")
@click.argument("email")
@click.option("--forget", is_flag=True, help="Erase the subscriber and their history.")
@pass_context
def subscribers_remove(obj: Context, email: str, forget: bool) -> None:
    """Unsubscribe an address (with --forget, erase it entirely)."""
    from digest.subscribers import remove_subscriber

    config = obj.config()
    remove_subscriber(obj.store(config), email, now(), forget=forget)
    click.echo(f"{email}: {'erased' if forget else 'unsubscribed'}")


# ---------------------------------------------------------------- excerpt, preview


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--chars", type=click.IntRange(min=20), help="Length budget (default: config).")
@json_option
@pass_context
def excerpt(obj: Context, file: Path, chars: int | None, as_json: bool) -> None:
    """Print the excerpt the digest would use for an HTML or text file."""
    from digest.summarize import describe_file

    budget = chars if chars is not None else _excerpt_chars(obj)
    result = describe_file(file.read_bytes(), budget)
    if as_json:
        emit(result)
    else:
        click.echo(result["excerpt"])


def _excerpt_chars(obj: Context) -> int:
    if config_path(obj.config_file, os.environ).exists():
        return obj.config().digest.excerpt_chars
    from digest.config import DigestConfig

    return DigestConfig().excerpt_chars


@cli.command()
@week_option
@click.option("--subscriber", metavar="EMAIL", help="Render this subscriber's copy.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file.")
@click.option("--text", is_flag=True, help="The plain-text part instead of the HTML.")
@click.option("--open", "open_", is_flag=True, help="Open the result in the default browser.")
@click.option("--serve", is_flag=True, help="Serve a live preview on 127.0.0.1 that reloads.")
@click.option(
    "--port",
    default=8025,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port for --serve.",
)
@pass_context
def preview(
    obj: Context,
    week: str | None,
    subscriber: str | None,
    out: Path | None,
    text: bool,
    open_: bool,
    serve: bool,
    port: int,
) -> None:
    """Render the coming edition exactly as `send` would, to a file or stdout."""
    if serve:
        _serve_preview(obj, port, open_)
        return
    from digest.edition import resolve_week
    from digest.sending import preview_for

    config = obj.config()
    window = resolve_week(config, week, now())
    result = preview_for(config, obj.store(config), window, subscriber, now())
    if result is None:
        click.echo(f"No published articles in {window.label}: there is no edition to preview.")
        return
    if result.left_out:
        click.echo(
            f"Warning: {len(result.left_out)} articles left out to stay under "
            f"{config.digest.max_message_kb} KB: {'; '.join(result.left_out)}",
            err=True,
        )
    body = result.text if text else result.html
    if open_ and out is None:
        out = config.outbox_path / f"preview-{window.label}.{'txt' if text else 'html'}"
    if out is None:
        click.echo(body, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(body, encoding="utf-8")
    click.echo(f"Preview of {window.label} written to {out}", err=True)
    if open_:
        webbrowser.open(out.resolve().as_uri())


def _serve_preview(obj: Context, port: int, open_: bool) -> None:
    import uvicorn

    from digest.desk import create_preview_app

    config = obj.config()
    url = f"http://127.0.0.1:{port}/"
    click.echo(f"Live preview at {url} (reloads on changes; Ctrl-C stops)", err=True)
    if open_:
        webbrowser.open(url)
    uvicorn.run(
        create_preview_app(config),
        host="127.0.0.1",
        port=port,
        log_level="info" if obj.verbose else "warning",
    )


# ---------------------------------------------------------------- send, schedule, status


@cli.command()
@week_option
@click.option("--dry-run", is_flag=True, help="Build and count, send nothing, store nothing.")
@click.option("--resume", is_flag=True, help="Continue the newest unfinished edition.")
@click.option("--shard", metavar="i/n", help="Send only subscribers whose id is i-1 modulo n.")
@click.option(
    "--test",
    "test_to",
    metavar="EMAIL[,EMAIL]",
    help="Send a [TEST] copy to these addresses only; freezes nothing.",
)
@json_option
@pass_context
def send(
    obj: Context,
    week: str | None,
    dry_run: bool,
    resume: bool,
    shard: str | None,
    test_to: str | None,
    as_json: bool,
) -> None:
    """Freeze the week's edition and deliver it to every active subscriber."""
    if test_to:
        _send_test(obj, week, test_to, as_json)
        return
    from digest.delivery import parse_shard
    from digest.edition import resolve_week
    from digest.progress import SendProgress
    from digest.sending import send_edition, week_to_resume

    part = parse_shard(shard) if shard else (1, 1)
    config = obj.config()
    db = obj.store(config)
    if resume and not week:
        week = week_to_resume(db)
    window = resolve_week(config, week, now())
    report = send_edition(
        config,
        db,
        window,
        now,
        dry_run=dry_run,
        shard=part,
        progress=None if as_json else SendProgress(),
    )
    if report is None:
        _say(
            as_json,
            {"week": window.label, "edition": None, "sent": 0},
            f"No published articles in {window.label}: no edition this week.",
        )
        return
    data = {
        "week": report.week,
        "edition": report.edition_id,
        "dry_run": dry_run,
        "already_sent": report.already_sent,
        **{s: report.count(s) for s in DELIVERY_STATUSES},
    }
    where = "" if config.smtp.host else f" (outbox: {config.outbox_path / report.week})"
    data["warnings"] = report.warnings
    _say(as_json, data, _send_summary(report, dry_run) + where)
    if not as_json:
        for warning in report.warnings:
            click.echo(f"Warning: {warning}", err=True)
    failed = report.count("failed") + report.count("bounced")
    if failed:
        raise click.ClickException(
            f"{failed} deliveries failed or bounced; "
            "`subscribers list --status bounced` names them."
        )


def _send_test(obj: Context, week: str | None, test_to: str, as_json: bool) -> None:
    from digest.edition import resolve_week
    from digest.sending import parse_test_addresses, send_test

    addresses = parse_test_addresses(test_to)
    config = obj.config()
    db = obj.store(config)
    window = resolve_week(config, week, now())
    report = send_test(config, db, window, addresses, now)
    if report is None:
        _say(
            as_json,
            {"week": window.label, "test": True, "sent": []},
            f"No published articles in {window.label}: nothing to test.",
        )
        return
    data = {
        "week": report.week,
        "test": True,
        "sent": report.sent,
        "failed": [{"email": e, "reason": r} for e, r in report.failed],
    }
    _say(as_json, data, f"Test copy of {report.week} sent to {', '.join(report.sent) or 'nobody'}")
    if report.failed:
        raise click.ClickException(
            "Test copy not delivered to " + "; ".join(f"{e} ({r})" for e, r in report.failed)
        )


def _send_summary(report: Any, dry_run: bool) -> str:
    if report.already_sent:
        return (
            f"Edition {report.week} was already sent ({report.count('sent')} sent); "
            "nothing to send."
        )
    if dry_run:
        return (
            f"Dry run of {report.week}: would send {report.count('pending')} "
            f"(skip {report.count('skipped')}); nothing stored or sent."
        )
    parts = [
        f"{report.count(s)} {s}"
        for s in ("sent", "deferred", "failed", "bounced", "skipped")
        if report.count(s)
    ]
    return f"Edition {report.week}: " + (", ".join(parts) or "nothing to do")


def _say(as_json: bool, data: dict[str, Any], line: str) -> None:
    if as_json:
        emit(data)
    else:
        click.echo(line)


@cli.command()
@pass_context
def schedule(obj: Context) -> None:
    """Run the weekly schedule in the foreground: each run sends last week's edition."""
    from digest.scheduler import next_run, weekly_scheduler

    config = obj.config()
    scheduler = weekly_scheduler(obj.config, now)
    click.echo(
        f"Scheduled every {config.schedule.day} at {config.schedule.time} "
        f"{config.newsletter.timezone}; next run {next_run(scheduler, now())}. Ctrl-C stops."
    )
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()


@cli.command()
@week_option
@click.option("--check-links", is_flag=True, help="Also fetch every link (5 s timeout each).")
@json_option
@pass_context
def lint(obj: Context, week: str | None, check_links: bool, as_json: bool) -> None:
    """Check the rendered edition for size, links, images, text part, subject and clients."""
    from digest.edition import resolve_week
    from digest.lint import lint_edition

    config = obj.config()
    window = resolve_week(config, week, now())
    report = lint_edition(config, obj.store(config), window, now(), links=check_links)
    if report is None:
        _say(
            as_json,
            {"week": window.label, "ok": True, "findings": []},
            f"No published articles in {window.label}: nothing to check.",
        )
        return
    errors = report.errors
    if as_json:
        findings = [f.__dict__ for f in report.findings]
        emit({"week": window.label, "ok": not errors, "findings": findings})
    else:
        for f in report.findings:
            click.echo(f"{f.level}: {f.check}: {f.message}")
        warnings = len(report.findings) - len(errors)
        click.echo(f"{window.label}: {len(errors)} errors, {warnings} warnings", err=True)
    if errors:
        raise click.exceptions.Exit(1)


@cli.command()
@week_option
@click.option("--by", default="", help="Who approves (recorded with the approval).")
@json_option
@pass_context
def approve(obj: Context, week: str | None, by: str, as_json: bool) -> None:
    """Approve a held edition and send it now (see [schedule] hold)."""
    from digest.approval import approve_week

    config = obj.config()
    who = by or os.environ.get("USER", "")
    label, report = approve_week(config, obj.store(config), week, who, now)
    if report is None:
        _say(
            as_json,
            {"week": label, "approved": True, "sent": 0},
            f"{label} approved, but it has no published articles: nothing to send.",
        )
        return
    data = {
        "week": report.week,
        "approved": True,
        **{s: report.count(s) for s in DELIVERY_STATUSES},
    }
    _say(as_json, data, f"{label} approved. " + _send_summary(report, False))


@cli.command()
@json_option
@pass_context
def status(obj: Context, as_json: bool) -> None:
    """Editions and their delivery counts."""
    from digest.sending import edition_status

    config = obj.config()
    editions = edition_status(obj.store(config))
    if as_json:
        emit({"editions": editions})
        return
    if not editions:
        click.echo("No editions yet.")
    for e in editions:
        counts = ", ".join(f"{e.get(s, 0)} {s}" for s in DELIVERY_STATUSES)
        click.echo(f"{e['week']}  {e['status']:<6}  {counts}  {e['subject']}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@pass_context
def serve(obj: Context, host: str, port: int) -> None:
    """Serve the unsubscribe and preferences pages (put it behind your HTTPS proxy)."""
    import uvicorn

    from digest.web import create_app

    config = obj.config()
    app = create_app(config)
    obj.store(config).close()  # fail now, not on the first request
    click.echo(f"Serving {config.base_url}/unsubscribe/... on http://{host}:{port}", err=True)
    uvicorn.run(
        app,
        host=host,
        port=port,
        proxy_headers=True,
        log_level="info" if obj.verbose else "warning",
    )


@cli.command("process-unsubscribes")
@click.argument("maildir", type=click.Path(file_okay=False, path_type=Path))
@json_option
@pass_context
def process_unsubscribes(obj: Context, maildir: Path, as_json: bool) -> None:
    """Apply the mailto unsubscribe requests that arrived in a Maildir."""
    from digest.unsubscribe import process_maildir

    config = obj.config()
    report = process_maildir(obj.store(config), config, maildir, now())
    if as_json:
        emit(report.as_dict())
        return
    click.echo(
        f"{report.unsubscribed} unsubscribed, {report.already} already out, "
        f"{len(report.invalid)} not understood"
    )
    for item in report.invalid:
        click.echo(f"  {item['message']}: {item['reason']} ({item['subject']!r})", err=True)


def main() -> None:
    """The console-script entry point."""
    cli(prog_name="digest")
