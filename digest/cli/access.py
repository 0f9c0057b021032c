"""Commands for the API and webhooks out: tokens add/list/remove, webhooks add/list/
remove/rotate/test."""

from __future__ import annotations

import click

from digest.cli.app import Context, DigestGroup, cli, emit, json_option, pass_context

# ---------------------------------------------------------------- tokens


@cli.group(cls=DigestGroup)
def tokens() -> None:
    """API tokens for /api/v1 on `digest serve`."""


@tokens.command("add")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    help="What the token may do, comma-separated (articles:write, subscribers:read, ...).",
)
@json_option
@pass_context
def tokens_add(obj: Context, name: str, scopes: tuple[str, ...], as_json: bool) -> None:
    """Make a token; its value is printed this once and stored only as a hash."""
    from digest.web.access import add_token

    config = obj.config()
    made = add_token(obj.store(config), name, scopes, obj.now())
    if as_json:
        emit({"name": made.name, "scopes": list(made.scopes), "token": made.token})
        return
    click.echo(f"{made.name} ({', '.join(made.scopes)}):")
    click.echo(made.token)
    click.echo("Keep it now: it is not shown again (only its hash is stored).", err=True)


@tokens.command("list")
@json_option
@pass_context
def tokens_list(obj: Context, as_json: bool) -> None:
    """The tokens: names, scopes, when made and last used (never their values)."""
    from digest.web.access import list_tokens

    config = obj.config()
    rows = list_tokens(obj.store(config))
    if as_json:
        emit(
            {
                "tokens": [
                    {
                        "name": t.name,
                        "scopes": list(t.scopes),
                        "created_at": t.created_at,
                        "last_used_at": t.last_used_at or None,
                    }
                    for t in rows
                ]
            }
        )
        return
    if not rows:
        click.echo("no tokens: `digest tokens add NAME --scope SCOPE` makes one")
    for t in rows:
        used = f"last used {t.last_used_at}" if t.last_used_at else "never used"
        click.echo(f"{t.name}  {','.join(t.scopes)}  made {t.created_at}, {used}")


@tokens.command("remove")
@click.argument("name")
@pass_context
def tokens_remove(obj: Context, name: str) -> None:
    """Revoke a token at once."""
    from digest.web.access import remove_token

    config = obj.config()
    remove_token(obj.store(config), name)
    click.echo(f"{name}: revoked")


# ---------------------------------------------------------------- webhooks


@cli.group(cls=DigestGroup)
def webhooks() -> None:
    """Webhooks out (Standard Webhooks): endpoints that hear of readers and editions."""


@webhooks.command("add")
@click.argument("url")
@click.option(
    "--events",
    "events",
    multiple=True,
    required=True,
    help="Event types, comma-separated (subscriber.confirmed, edition.sent, ...).",
)
@json_option
@pass_context
def webhooks_add(obj: Context, url: str, events: tuple[str, ...], as_json: bool) -> None:
    """Add an endpoint; its whsec_ secret is printed this once."""
    from digest.hooks.endpoints import add_endpoint

    config = obj.config()
    made = add_endpoint(obj.store(config), config, url, events, obj.now())
    if as_json:
        emit({"id": made.id, "url": made.url, "events": list(made.events), "secret": made.secret})
        return
    click.echo(f"endpoint {made.id}: {made.url} ({', '.join(made.events)})")
    click.echo(made.secret)
    click.echo(
        "Keep the secret now: it is not shown again (`webhooks rotate` makes a new one).", err=True
    )


@webhooks.command("list")
@json_option
@pass_context
def webhooks_list(obj: Context, as_json: bool) -> None:
    """The endpoints: events, delivered, waiting, disabled and why (never a secret)."""
    from digest.hooks.endpoints import list_endpoints

    config = obj.config()
    rows = list_endpoints(obj.store(config))
    data = [
        {
            "id": e.id,
            "url": e.url,
            "events": list(e.events),
            "enabled": e.enabled,
            "disabled_reason": e.disabled_reason or None,
            "delivered": e.delivered,
            "failed_attempts": e.attempts,
            "next_attempt_at": e.next_attempt_at or None,
            "last_error": e.last_error or None,
        }
        for e in rows
    ]
    if as_json:
        emit({"endpoints": data})
        return
    if not rows:
        click.echo("no endpoints: `digest webhooks add URL --events E` adds one")
    for e in rows:
        state = "enabled" if e.enabled else f"DISABLED: {e.disabled_reason}"
        retry = f", retrying at {e.next_attempt_at} ({e.last_error})" if e.next_attempt_at else ""
        click.echo(
            f"{e.id}  {e.url}  {','.join(e.events)}  {state}, {e.delivered} delivered{retry}"
        )


@webhooks.command("remove")
@click.argument("endpoint_id", type=int)
@pass_context
def webhooks_remove(obj: Context, endpoint_id: int) -> None:
    """Stop sending to an endpoint."""
    from digest.hooks.endpoints import remove_endpoint

    config = obj.config()
    remove_endpoint(obj.store(config), endpoint_id)
    click.echo(f"endpoint {endpoint_id}: removed")


@webhooks.command("rotate")
@click.argument("endpoint_id", type=int)
@json_option
@pass_context
def webhooks_rotate(obj: Context, endpoint_id: int, as_json: bool) -> None:
    """A new secret (printed once); for 24 hours both the old and the new sign."""
    from digest.hooks.endpoints import rotate_endpoint

    config = obj.config()
    made = rotate_endpoint(obj.store(config), endpoint_id, obj.now())
    if as_json:
        emit({"id": made.id, "secret": made.secret})
        return
    click.echo(made.secret)
    click.echo("The old secret signs too for 24 hours: switch the receiver to this one.", err=True)


@webhooks.command("enable")
@click.argument("endpoint_id", type=int)
@pass_context
def webhooks_enable(obj: Context, endpoint_id: int) -> None:
    """Send to a disabled endpoint again, from the event it stopped at."""
    from digest.hooks.endpoints import enable

    config = obj.config()
    enable(obj.store(config), endpoint_id)
    click.echo(f"endpoint {endpoint_id}: enabled")


@webhooks.command("test")
@click.argument("endpoint_id", type=int)
@json_option
@pass_context
def webhooks_test(obj: Context, endpoint_id: int, as_json: bool) -> None:
    """Send one signed webhook.test to an endpoint now; exit 1 if it was not taken."""
    from digest.hooks.sender import send_test

    config = obj.config()
    msg_id, problem = send_test(obj.store(config), config, endpoint_id, obj.now())
    if as_json:
        emit({"id": msg_id, "delivered": not problem, "problem": problem or None})
    else:
        click.echo(f"{msg_id}: {problem or 'delivered'}")
    if problem:
        raise SystemExit(1)
