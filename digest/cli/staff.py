"""Commands for the desk's people and record: staff add/list/role/remove/reset, desk,
audit (and audit verify)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from digest.cli.app import Context, DigestGroup, cli, emit, json_option, pass_context

# ---------------------------------------------------------------- staff


@cli.group(cls=DigestGroup)
def staff() -> None:
    """The desk's accounts: one role each (viewer, editor, publisher, admin)."""


ROLE = click.Choice(["viewer", "editor", "publisher", "admin"])


@staff.command("add")
@click.argument("email")
@click.option("--role", type=ROLE, required=True, help="What the account may do.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin (one line).")
@pass_context
def staff_add(obj: Context, email: str, role: str, password_stdin: bool) -> None:
    """Add a staff account. Without --password-stdin, print a link to set the password."""
    from digest.staff.accounts import add_staff, reset_link

    config = obj.config()
    db = obj.store(config)
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else ""
    added = add_staff(config, db, obj.actor(), email, role, password, obj.now())
    click.echo(f"{added.email}: added as {added.role}")
    if added.totp_uri:
        click.echo(f"Second factor: add this to an authenticator app:\n{added.totp_uri}")
    if not password:
        link = reset_link(config, db, obj.actor(), added.email, obj.now())
        click.echo(f"To set a password, open once (within 24 hours): {link}")


@staff.command("list")
@json_option
@pass_context
def staff_list(obj: Context, as_json: bool) -> None:
    """List the staff accounts and their roles."""
    from digest.staff.accounts import staff_list as accounts

    config = obj.config()
    found = accounts(obj.store(config))
    if as_json:
        emit({"staff": found})
        return
    for r in found:
        how = ("password" if r["password"] else "no password yet") + (
            " + TOTP" if r["totp"] else ""
        )
        click.echo(f"{r['email']}  {r['role']}  ({how})")
    if not found:
        click.echo("No staff accounts yet: `digest staff add EMAIL --role admin`.")


@staff.command("role")
@click.argument("email")
@click.argument("role", type=ROLE)
@pass_context
def staff_role(obj: Context, email: str, role: str) -> None:
    """Give an account another role (its sessions end)."""
    from digest.staff.accounts import set_role

    config = obj.config()
    uri = set_role(config, obj.store(config), obj.actor(), email, role, obj.now())
    click.echo(f"{email}: now {role}")
    if uri:
        click.echo(f"Second factor: add this to an authenticator app:\n{uri}")


@staff.command("remove")
@click.argument("email")
@pass_context
def staff_remove(obj: Context, email: str) -> None:
    """Remove an account (its sessions end)."""
    from digest.staff.accounts import remove_staff

    config = obj.config()
    remove_staff(obj.store(config), obj.actor(), email, obj.now())
    click.echo(f"{email}: removed")


@staff.command("reset")
@click.argument("email")
@pass_context
def staff_reset(obj: Context, email: str) -> None:
    """Print a one-time link to set a new password (the old one and sessions end)."""
    from digest.staff.accounts import reset_link

    config = obj.config()
    link = reset_link(config, obj.store(config), obj.actor(), email, obj.now())
    click.echo(f"{email}: open once (within 24 hours): {link}")


# ---------------------------------------------------------------- desk


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8030, show_default=True, type=click.IntRange(1, 65535))
@pass_context
def desk(obj: Context, host: str, port: int) -> None:
    """Serve the editors' desk, behind a login (put it behind your TLS proxy)."""
    import uvicorn

    from digest.web.desk import create_desk_app

    config = obj.config()
    obj.store(config)  # migrated before the first request
    where = config.desk.base_url or f"http://{host}:{port}"
    click.echo(f"The desk at {where} (Ctrl-C stops)", err=True)
    uvicorn.run(
        create_desk_app(config),
        host=host,
        port=port,
        proxy_headers=True,
        log_level="info" if obj.verbose else "warning",
    )


# ---------------------------------------------------------------- audit


@cli.group(cls=DigestGroup, invoke_without_command=True)
@click.option("--since", type=click.DateTime(), help="Only rows from this time (UTC).")
@json_option
@pass_context
@click.pass_context
def audit(ctx: click.Context, obj: Context, since: datetime | None, as_json: bool) -> None:
    """The audit log: every state change and reader lookup, who, when, a hash of the
    state before and after. `audit verify` checks the hash chain."""
    if ctx.invoked_subcommand is not None:
        return
    from digest.staff.audit import entries

    config = obj.config()
    rows = entries(obj.store(config), since.replace(tzinfo=UTC) if since else None)
    if as_json:
        emit({"audit": rows})
        return
    for r in rows:
        refused = "  REFUSED" if r["outcome"] == "refused" else ""
        detail = f"  ({r['detail']})" if r["detail"] else ""
        click.echo(
            f"{r['id']:>5}  {r['at']}  {r['actor']} [{r['role']}]  {r['action']}  "
            f"{r['target']}{refused}{detail}"
        )


@audit.command("verify")
@pass_context
def audit_verify(obj: Context) -> None:
    """Check the audit log's hash chain; exit 1 naming the first bad row."""
    from digest.staff.audit import verify

    config = obj.config()
    verdict = verify(obj.store(config))
    if not verdict.ok:
        raise click.ClickException(
            f"the audit log is broken at row {verdict.bad_row}: {verdict.reason}. Rows "
            "before it are as written; compare the rest with a backup."
        )
    click.echo(f"The audit log verifies: {verdict.rows} rows, each chained to the one before.")
