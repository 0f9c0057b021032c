"""Long-running, mailbox and store commands: schedule, serve, process-mail, backup, restore."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import click

from digest.cli.app import (
    Context,
    cli,
    emit,
    json_option,
    pass_context,
)


@cli.command()
@pass_context
def schedule(obj: Context) -> None:
    """Run the weekly schedule in the foreground: each run sends last week's edition."""
    from digest.scheduler import next_run, weekly_scheduler

    # What each run did is the schedule's output: say it at the default level too.
    logging.getLogger("digest").setLevel(logging.INFO)
    config = obj.config()
    scheduler = weekly_scheduler(obj.config, obj.now)
    click.echo(
        f"Scheduled every {config.schedule.day} at {config.schedule.time} "
        f"{config.newsletter.timezone}; next run {next_run(scheduler, obj.now())}. Ctrl-C stops."
    )
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()


@cli.command()
@click.option("--dry-run", is_flag=True, help="Change nothing; say what each step would do.")
@json_option
@pass_context
def run(obj: Context, dry_run: bool, as_json: bool) -> None:
    """The scheduled run once, now (cron calls this): feeds, returns, queued emails,
    stale sign-ups, then last week's edition; exit 1 when a step failed."""
    from digest.approval import run_weekly

    report = run_weekly(obj.config(), obj.now, dry_run=dry_run)
    if as_json:
        emit(report.as_dict())
    else:
        click.echo(
            f"Weekly run for {report.week}{' (dry run: nothing changed)' if dry_run else ''}"
        )
        for step in report.steps:
            click.echo(f"  {step.name:<14} {step.status:<8} {step.said}")
    if report.failed:
        names = ", ".join(s.name for s in report.failed)
        raise click.ClickException(f"the weekly run had failed steps ({names}): see above")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@pass_context
def serve(obj: Context, host: str, port: int) -> None:
    """Serve the unsubscribe and preferences pages (put it behind your HTTPS proxy)."""
    import uvicorn

    from digest.web.app import create_app

    config = obj.config()
    app = create_app(config)
    obj.store(config).close()  # fail now, not on the first request
    click.echo(f"Serving {config.base_url}/unsubscribe/... on http://{host}:{port}", err=True)
    uvicorn.run(
        app,
        host=host,
        port=port,
        proxy_headers=False,  # the client address comes from [signup] client_ip_header
        log_level="info" if obj.verbose else "warning",
    )


@cli.command("process-mail")
@click.argument("maildir", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--imap", is_flag=True, help="Read the [imap] mailbox instead of a Maildir.")
@click.option(
    "--dry-run", is_flag=True, help="Say what each message is and would do; change nothing."
)
@json_option
@pass_context
def process_mail(
    obj: Context, maildir: Path | None, imap: bool, dry_run: bool, as_json: bool
) -> None:
    """Apply bounces, complaints and unsubscribe requests from the return-path mailbox
    (each only on proof that it answers a message digest sent; see the README)."""
    _process_mail(obj, maildir, imap, as_json, dry_run)


@cli.command("process-unsubscribes")
@click.argument("maildir", type=click.Path(file_okay=False, path_type=Path))
@json_option
@pass_context
def process_unsubscribes(obj: Context, maildir: Path, as_json: bool) -> None:
    """The same as `process-mail MAILDIR` (its earlier name)."""
    _process_mail(obj, maildir, False, as_json, False)


def _process_mail(
    obj: Context, maildir: Path | None, imap: bool, as_json: bool, dry_run: bool
) -> None:
    from digest.returns.process import process_return_path

    if (maildir is None) == (not imap):
        raise click.UsageError("Give a MAILDIR, or --imap to read the [imap] mailbox.")
    config = obj.config()
    report = process_return_path(
        obj.store(config), config, obj.now(), maildir=maildir, imap=imap, dry_run=dry_run
    )
    if as_json:
        emit(report.as_dict())
        return
    summary = report.as_dict()
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(summary["kinds"].items()))
    would = "would be: " if dry_run else ""
    click.echo(f"{len(report.messages)} messages ({kinds or 'none'}){' (dry run)' * dry_run}")
    click.echo(
        f"{would}{summary['bounced']} bounced, {summary['soft']} soft bounces counted, "
        f"{summary['complaints']} complaints, {summary['unsubscribed']} unsubscribed, "
        f"{summary['probes']} probes, {summary['leave_checks']} one-click links sent; "
        f"{summary['left_unread']} left unread, {summary['set_aside']} set aside"
    )
    for plan in report.messages:
        entry = plan.as_dict()
        click.echo(
            f"  {entry['message']}: {entry['kind']}, proof {entry['proof']}: {entry['action']}"
        )
    if report.notices.get("problem"):
        click.echo(f"Warning: queued emails wait: {report.notices['problem']}", err=True)


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@pass_context
def backup(obj: Context, file: Path, as_json: bool) -> None:
    """Copy the store to FILE consistently, even while a send or the web side writes."""
    from digest.backups import backup_store

    done = backup_store(obj.config(), file)
    said = (
        f"{done.path}: {done.bytes / 1024:,.0f} KB, {done.subscribers} subscribers, "
        f"{done.editions} editions (integrity ok)"
    )
    if as_json:
        emit(done.__dict__)
    else:
        click.echo(said)


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--discard-current",
    is_flag=True,
    help="Replace a store that cannot be read, carrying nothing over from it.",
)
@json_option
@pass_context
def restore(obj: Context, file: Path, discard_current: bool, as_json: bool) -> None:
    """Check the copy FILE and put it in the store's place (the old store is kept),
    carrying over from the old store who left since and what was sent."""
    from digest.backups import carried_said, restore_store

    done = restore_store(obj.config(), file, obj.now(), discard_current=discard_current)
    if as_json:
        emit({**done.__dict__, "migrated": list(done.migrated), "notes": list(done.notes)})
        return
    click.echo(f"{done.store} restored from {done.source}")
    if done.previous:
        click.echo(f"The store it replaced is kept at {done.previous}")
    if done.migrated:
        click.echo(f"Brought up to date: {', '.join(done.migrated)}")
    said = carried_said(done.carried)
    if said:
        click.echo(f"Carried over from the store it replaced: {said}")
    elif done.previous and not done.notes:
        click.echo("Nothing to carry over: nobody left and nothing was sent since the copy.")
    for note in done.notes:
        click.echo(f"Warning: {note}", err=True)
