"""Long-running and mailbox commands: schedule, serve, process-unsubscribes."""

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
    now,
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
    scheduler = weekly_scheduler(obj.config, now)
    click.echo(
        f"Scheduled every {config.schedule.day} at {config.schedule.time} "
        f"{config.newsletter.timezone}; next run {next_run(scheduler, now())}. Ctrl-C stops."
    )
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()


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
