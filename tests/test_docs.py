"""The README cannot drift from the CLI: every command is documented and has help."""

from pathlib import Path

import click
import pytest

from digest.cli import cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            found += _commands(command, path + " ")
        else:
            found.append((path, command))
    return found


@pytest.mark.parametrize(("path", "command"), _commands(cli), ids=lambda x: str(x))
def test_every_command_is_in_the_readme_with_help(path: str, command: click.Command) -> None:
    assert f"`digest {path}" in README, f"README lacks `digest {path}`"
    assert command.help and command.help.strip()


def test_readme_starts_with_the_two_commands() -> None:
    first_block = README.split("## Two commands", 1)[1].split("\n\n")[2]
    assert "make demo" in first_block and "make test" in first_block


def test_the_settings_tables_are_the_declarations() -> None:
    """`make docs` writes them; a setting added or changed without it fails here."""
    from digest.config import settings_reference

    block = README.split("<!-- settings: made by `make docs` -->\n", 1)[1].split(
        "<!-- /settings -->", 1
    )[0]
    assert block == settings_reference(), "README settings tables are stale: run `make docs`"
    for secret in ("DIGEST_SECRET", "DIGEST_SMTP_PASSWORD", "DIGEST_IMAP_PASSWORD"):
        assert f"| `{secret}` |" in block
