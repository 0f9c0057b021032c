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
