"""Commands for the list: subscribers add, import, list, export, remove, reactivate,
sunset, purge-pending."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from digest.cli.app import (
    Context,
    DigestGroup,
    cli,
    emit,
    emit_list,
    json_option,
    pass_context,
    returned_note,
)
from digest.models import SUBSCRIBER_STATUSES

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
    from digest.staff.acts import add_reader

    config = obj.config()
    db = obj.store(config)
    address, outcome = add_reader(db, config, obj.actor(), email, name, topics, obj.now())
    click.echo(f"{address}: {outcome}")


@subscribers.command("reactivate")
@click.argument("email")
@pass_context
def subscribers_reactivate(obj: Context, email: str) -> None:
    """Set an unsubscribed or bounced subscriber active again, on their request."""
    from digest.staff.acts import reactivate_reader

    config = obj.config()
    reactivate_reader(obj.store(config), obj.actor(), email, obj.now())
    click.echo(f"{email}: active")


@subscribers.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--from",
    "tool",
    type=click.Choice(["csv", "mailchimp", "substack", "ghost", "buttondown", "listmonk"]),
    default="csv",
    show_default=True,
    help="Whose export FILE is (Mailchimp: its audience zip or one of its CSVs).",
)
@click.option(
    "--list",
    "list_name",
    default="",
    help="listmonk: the list (name or id) this newsletter is, when the export holds several.",
)
@click.option("--dry-run", is_flag=True, help="Report what the import would do; change nothing.")
@json_option
@pass_context
def subscribers_import(
    obj: Context, file: Path, tool: str, list_name: str, dry_run: bool, as_json: bool
) -> None:
    """Import a list: digest's CSV (email,name,topics[,status]) or another tool's export.
    People who left come in as left and are never mailed."""
    from digest.staff.acts import import_readers

    config = obj.config()
    db = obj.store(config)
    report = import_readers(
        db, config, obj.actor(), file, obj.now(), tool=tool, dry_run=dry_run, list_name=list_name
    )
    if as_json:
        emit(report.as_dict())
        return
    states = ", ".join(f"{n} {state}" for state, n in sorted(report.states.items()))
    click.echo(f"{file.name} ({tool}): {states or 'no rows'}")
    for name, how in report.read_as.items():
        click.echo(f"Read {name} as {how}")
    click.echo(
        f"{'Would be' if dry_run else 'Done'}: {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.left} taken off (they left), "
        f"{report.unconfirmed} unconfirmed left out, {report.merged} duplicates merged, "
        f"{report.skipped} refused"
    )
    if report.kept:
        click.echo(
            f"{report.kept} unsubscribed or bounced addresses left as they were; "
            "use `subscribers reactivate EMAIL` for anyone who asked to return."
        )
    if report.unknown_topics:
        click.echo(
            f"Warning: no section has the topics {', '.join(report.unknown_topics)}; "
            "readers who chose only those get nothing. Check the spelling, or add them "
            "to [digest] section_order or [topics].",
            err=True,
        )
    for err in report.errors:
        where = f"{err.get('file', '')}:{err['line']}" if "line" in err else "import"
        click.echo(f"  {where}: {err['reason']} ({err['value']!r})", err=True)


@subscribers.command("list")
@click.option(
    "--status", type=click.Choice([str(s) for s in SUBSCRIBER_STATUSES]), help="Only this status."
)
@json_option
@pass_context
def subscribers_list(obj: Context, status: str | None, as_json: bool) -> None:
    """List subscribers."""
    from digest.readers.subscribers import subscriber_rows

    config = obj.config()
    rows = subscriber_rows(obj.store(config), status)
    if as_json:
        emit_list("subscribers", rows)
        return
    for r in rows:
        topics = ", ".join(r["topics"]) or "all topics"
        returned = returned_note(r["returned"], "  came back: ")
        click.echo(f"{r['email']}  {r['name']}  [{topics}]  {r['status']}{returned}")


@subscribers.command("export")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option(
    "--status", type=click.Choice([str(s) for s in SUBSCRIBER_STATUSES]), help="Only this status."
)
@pass_context
def subscribers_export(obj: Context, file: Path, status: str | None) -> None:
    """Write the list as CSV (email,name,topics,status), safe to open in a spreadsheet."""
    from digest.readers.subscribers import export_subscribers

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
    from digest.staff.acts import remove_reader

    config = obj.config()
    remove_reader(obj.store(config), config, obj.actor(), email, obj.now(), forget=forget)
    click.echo(f"{email}: {'erased' if forget else 'unsubscribed'}")


@subscribers.command("sunset")
@click.option("--dry-run", is_flag=True, help="Name who would be asked and lapse; change nothing.")
@json_option
@pass_context
def subscribers_sunset(obj: Context, dry_run: bool, as_json: bool) -> None:
    """Ask readers with no sign of life over [sunset] after_editions editions whether they
    still want it (one email, a "keep sending" link); lapse those who never answered."""
    from digest.readers.sunset import sunset_and_send

    config = obj.config()
    report = sunset_and_send(obj.store(config), config, obj.clock, dry_run=dry_run)
    if as_json:
        emit(report.as_dict())
        if report.problem:
            raise click.exceptions.Exit(1)
        return
    click.echo(f"{'Dry run' if dry_run else 'Sunset'}: {report.summary()}")
    named = (
        ("would be asked" if dry_run else "asked", report.ask),
        ("would lapse" if dry_run else "lapsed", report.lapse),
        ("waiting for an answer", report.waiting),
        ("too new", report.too_new),
    )
    for label, entries in named:
        for entry in entries:
            click.echo(f"  {label}: {entry.email} ({entry.why})")
    if report.notices.get("problem"):
        click.echo(f"Warning: queued emails wait: {report.notices['problem']}", err=True)
    if report.problem:
        raise click.ClickException(report.problem)


@subscribers.command("purge-pending")
@pass_context
def subscribers_purge_pending(obj: Context) -> None:
    """Remove sign-ups never confirmed within [signup] confirm_hours."""
    from digest.readers.signup import purge_pending

    config = obj.config()
    count = purge_pending(obj.store(config), config, obj.now())
    click.echo(f"{count} unconfirmed sign-ups removed")
