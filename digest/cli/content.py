"""Commands for what goes in: init, import, feeds, articles, excerpt."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from digest.cli.app import (
    Context,
    DigestGroup,
    cli,
    emit,
    json_option,
    pass_context,
    say,
    week_option,
)
from digest.config import config_path

# ---------------------------------------------------------------- init, import


if TYPE_CHECKING:
    from digest.content.feeds import SourceImport


@cli.command()
@click.option("--demo", is_flag=True, help="Load sample articles and subscribers.")
@pass_context
def init(obj: Context, demo: bool) -> None:
    """Create the config file (if missing) and the database; --demo adds sample data."""
    path = config_path(obj.config_file, os.environ)
    from digest.starter import write_config

    if write_config(path, demo=demo):
        hint = (
            ""
            if demo
            else " (the SET THIS lines first; send refuses until the CHANGE-ME values are "
            "filled in)"
        )
        click.echo(f"Wrote {path}: edit it to name your newsletter and relay{hint}.")
    config = obj.config()
    db = obj.store(config)
    click.echo(f"Store ready at {config.store_path}")
    if demo:
        from digest.starter import load_demo

        articles, subscribers = load_demo(config, db, obj.now())
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
    from digest.content.feeds import import_source

    if bool(source) == all_feeds:
        raise click.UsageError("Give one SOURCE (a file or an http(s) URL), or --feeds.")
    config = obj.config()
    result = import_source(obj.store(config), config, source, fmt, obj.now())
    if result.file is None:
        _report_feeds(result, as_json)
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


def _report_feeds(result: SourceImport, as_json: bool) -> None:
    feeds = result.feeds
    if not feeds:
        said = "No feeds are configured: add one with `digest feeds add URL`."
        say(as_json, {"added": 0, "updated": 0, "feeds": [], "errors": [], "note": said}, said)
        return
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
    failed = result.failed_feeds
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
    """Add a feed: its http(s) URL, or a feed file (a path or a file:// URL)."""
    from digest.staff.acts import add_feed

    config = obj.config()
    address, outcome = add_feed(obj.store(config), obj.actor(), url, topic, obj.now())
    click.echo(f"{address}: {outcome}")


@feeds.command("list")
@json_option
@pass_context
def feeds_list(obj: Context, as_json: bool) -> None:
    """List the feeds with how their last fetch went."""
    from digest.content.feeds import list_feeds

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
    from digest.staff.acts import remove_feed

    config = obj.config()
    click.echo(f"{remove_feed(obj.store(config), obj.actor(), url, obj.now())}: removed")


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
    from digest.content.edition import list_articles, resolve_week

    config = obj.config()
    window = resolve_week(config, week, obj.now()) if week else None
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


@articles.command("feature")
@click.argument("url")
@week_option
@json_option
@pass_context
def articles_feature(obj: Context, url: str, week: str | None, as_json: bool) -> None:
    """Make the article at URL the week's lead (default: the coming edition's week)."""
    _pick(obj, url, week, as_json, lead=True)


@articles.command("unfeature")
@click.argument("url")
@week_option
@json_option
@pass_context
def articles_unfeature(obj: Context, url: str, week: str | None, as_json: bool) -> None:
    """Keep the article at URL from leading the week; the ranking picks the lead."""
    _pick(obj, url, week, as_json, lead=False)


def _pick(obj: Context, url: str, week: str | None, as_json: bool, *, lead: bool) -> None:
    from digest.staff.acts import pick_lead

    config = obj.config()
    done = pick_lead(config, obj.store(config), obj.actor(), url, week, obj.now(), lead=lead)
    said = f"{done.week}: the lead is now {done.lead!r}"
    if done.unpicked:
        said += f" (no longer picked: {'; '.join(done.unpicked)})"
    say(as_json, {**done.__dict__, "unpicked": list(done.unpicked)}, said)


# ---------------------------------------------------------------- excerpt, preview


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--chars", type=click.IntRange(min=20), help="Length budget (default: config).")
@json_option
@pass_context
def excerpt(obj: Context, file: Path, chars: int | None, as_json: bool) -> None:
    """Print the excerpt the digest would use for an HTML or text file."""
    from digest.content.summarize import describe_file

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
