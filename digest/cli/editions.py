"""Commands for an edition: preview, send (and --test), lint, approve, status."""

from __future__ import annotations

import os
import webbrowser
from pathlib import Path
from typing import Any

import click

from digest.cli.app import (
    SHARD,
    Context,
    cli,
    emit,
    json_option,
    pass_context,
    returned_note,
    say,
    week_option,
)
from digest.models import DELIVERY_STATUSES


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
        from digest.web.preview import PreviewView

        _serve_preview(obj, port, open_, PreviewView(week, subscriber or "", text))
        return
    from digest.content.edition import empty_week, resolve_week
    from digest.delivery.preview import preview_for

    config = obj.config()
    window = resolve_week(config, week, obj.now())
    result = preview_for(config, obj.store(config), window, subscriber, obj.now())
    if result is None:
        raise click.ClickException(empty_week(config, obj.store(config), window))
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


def _serve_preview(obj: Context, port: int, open_: bool, view: Any) -> None:
    import uvicorn

    from digest.web.preview import create_preview_app

    config = obj.config()
    url = f"http://127.0.0.1:{port}/{view.query()}"
    click.echo(f"Live preview at {url} (reloads on changes; Ctrl-C stops)", err=True)
    if open_:
        webbrowser.open(url)
    uvicorn.run(
        create_preview_app(config, view=view),
        host="127.0.0.1",
        port=port,
        log_level="info" if obj.verbose else "warning",
    )


# ---------------------------------------------------------------- send, schedule, status


@cli.command()
@week_option
@click.option("--dry-run", is_flag=True, help="Build and count, send nothing, store nothing.")
@click.option("--resume", is_flag=True, help="Continue the newest unfinished edition.")
@click.option(
    "--shard", type=SHARD, metavar="i/n", help="Send only subscribers whose id is i-1 modulo n."
)
@click.option(
    "--test",
    "test_to",
    metavar="EMAIL[,EMAIL]",
    help="Send a [TEST] copy to these addresses only; freezes nothing.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Send a week that is not over yet, or past the reputation guard's refuse rate.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=os.cpu_count() or 1,
    show_default="the number of cores",
    help="Sender processes, each over its own shard of the list.",
)
@json_option
@pass_context
def send(
    obj: Context,
    week: str | None,
    dry_run: bool,
    resume: bool,
    shard: tuple[int, int] | None,
    test_to: str | None,
    force: bool,
    workers: int,
    as_json: bool,
) -> None:
    """Freeze the week's edition and deliver it to every active subscriber."""
    if test_to:
        _send_test(obj, week, test_to, as_json)
        return
    from digest.delivery.progress import SendProgress
    from digest.delivery.sending import choose_week
    from digest.staff.acts import send as send_audited

    config = obj.config()
    db = obj.store(config)
    window = choose_week(config, db, week, resume, obj.now())
    report = send_audited(
        config,
        db,
        obj.actor(),
        window,
        obj.now,
        dry_run=dry_run,
        shard=shard or (1, 1),
        progress=None if as_json else SendProgress(),
        force=force,
        workers=workers,
    )
    if report is None:
        say(
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
        **{str(s): report.count(s) for s in DELIVERY_STATUSES},
    }
    from digest.mail.transports import transport_name

    via = transport_name(config, config.outbox_path / report.week)
    where = "" if dry_run or report.already_sent else f" (via {via})"
    data["transport"] = via
    data["warnings"] = report.warnings
    if dry_run:
        data["skipped_subscribers"] = [{"email": e, "reason": r} for e, r in report.skipped]
    say(as_json, data, _send_summary(report, dry_run) + where)
    if not as_json:
        for email, reason in report.skipped if dry_run else []:
            click.echo(f"  would skip {email}: {reason}")
        for warning in report.warnings:
            click.echo(f"Warning: {warning}", err=True)
    if report.problem:
        raise click.ClickException(report.problem + ".")


def _send_test(obj: Context, week: str | None, test_to: str, as_json: bool) -> None:
    from digest.staff.acts import send_test

    addresses = test_to.split(",")
    config = obj.config()
    db = obj.store(config)
    report = send_test(config, db, obj.actor(), week, addresses, obj.now)
    if report is None:
        from digest.content.edition import resolve_week

        label = resolve_week(config, week, obj.now()).label
        say(
            as_json,
            {"week": label, "test": True, "sent": []},
            f"No published articles in {label}: nothing to test.",
        )
        return
    data = {
        "week": report.week,
        "test": True,
        "sent": report.sent,
        "failed": [{"email": e, "reason": r} for e, r in report.failed],
    }
    who = ", ".join(report.sent) or "nobody"
    if report.outbox is not None:  # no relay configured: files, not mail
        data["outbox"] = str(report.outbox)
        line = f"Test copy of {report.week} for {who} written to {report.outbox} (no [smtp] host)"
    else:
        line = f"Test copy of {report.week} sent to {who}"
    say(as_json, data, line)
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
    parts = [f"{report.count(s)} {s}" for s in DELIVERY_STATUSES[1:] if report.count(s)]
    return f"Edition {report.week}: " + (", ".join(parts) or "nothing to do")


@cli.command()
@week_option
@click.option("--check-links", is_flag=True, help="Also fetch every link (5 s timeout each).")
@click.option(
    "--check-unsubscribe",
    is_flag=True,
    help="Also unsubscribe a test reader in one click on the running serve (RFC 8058), "
    "and check that DKIM signs List-Unsubscribe and List-Unsubscribe-Post.",
)
@json_option
@pass_context
def lint(
    obj: Context, week: str | None, check_links: bool, check_unsubscribe: bool, as_json: bool
) -> None:
    """Check the rendered edition for size, links, images, text part, subject and clients."""
    from digest.content.edition import empty_week, resolve_week
    from digest.lint.edition import lint_edition

    config = obj.config()
    window = resolve_week(config, week, obj.now())
    report = lint_edition(
        config,
        obj.store(config),
        window,
        obj.now(),
        links=check_links,
        one_click=check_unsubscribe,
    )
    if report is None:
        raise click.ClickException(empty_week(config, obj.store(config), window))
    errors = report.errors
    if as_json:
        findings = [f.__dict__ for f in report.findings]
        emit({"week": window.label, "ok": not errors, "findings": findings})
    else:
        for f in report.findings:
            click.echo(f"{f.level}: {f.check}: {f.message}")
        warnings = sum(1 for f in report.findings if f.level == "warning")
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
    from digest.staff.acts import approve as approve_audited

    config = obj.config()
    who = by or os.environ.get("USER", "")
    db = obj.store(config)
    label, report = approve_audited(config, db, obj.actor(), week, obj.now, by=who)
    if report is None:
        say(
            as_json,
            {"week": label, "approved": True, "sent": 0},
            f"{label} approved, but it has no published articles: nothing to send.",
        )
        return
    data = {
        "week": report.week,
        "approved": True,
        **{str(s): report.count(s) for s in DELIVERY_STATUSES},
    }
    say(as_json, data, f"{label} approved. " + _send_summary(report, False))
    if report.problem:
        raise click.ClickException(report.problem + ".")


@cli.command()
@json_option
@pass_context
def status(obj: Context, as_json: bool) -> None:
    """Editions and their delivery counts."""
    from digest.delivery.sending import edition_status
    from digest.readers.notices import queue_status

    config = obj.config()
    db = obj.store(config)
    editions = edition_status(db)
    queued = queue_status(db)
    if as_json:
        emit({"editions": editions, "queued_emails": queued})
        return
    if not editions:
        click.echo("No editions yet.")
    if queued:
        counts = ", ".join(f"{n} {state}" for state, n in sorted(queued.items()))
        click.echo(f"One-off emails (sign-ups, probes): {counts}")
    for e in editions:
        counts = ", ".join(f"{e.get(s, 0)} {s}" for s in DELIVERY_STATUSES)
        returned = returned_note(e["returned"], "; came back: ")
        click.echo(f"{e['week']}  {e['status']:<6}  {counts}{returned}  {e['subject']}")


@cli.command()
@week_option
@click.argument("text", required=False)
@click.option(
    "--file",
    "file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the note (Markdown) from a file.",
)
@click.option("--clear", is_flag=True, help="Remove the week's note.")
@pass_context
def note(obj: Context, week: str | None, text: str | None, file: Path | None, clear: bool) -> None:
    """Set the editor's note at the top of an edition (Markdown: paragraphs, links, emphasis)."""
    from digest.staff.acts import clear_note, set_note

    if sum(bool(x) for x in (text, file, clear)) != 1:
        raise click.UsageError("Give the note as TEXT, or --file F, or --clear.")
    config = obj.config()
    db = obj.store(config)
    if clear:
        label, removed = clear_note(config, db, obj.actor(), week, obj.now())
        click.echo(f"{label}: note removed" if removed else f"{label}: there was no note")
        return
    label, _, plain = set_note(config, db, obj.actor(), week, obj.now(), text=text, file=file)
    click.echo(f"{label}: note set. As the plain-text part shows it:\n\n{plain}")
