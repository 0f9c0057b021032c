"""The docs cannot drift from the code: every command and setting is documented, the
README is the front door with the two commands, and the manual builds with every link
inside it resolving (MkDocs, strict)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from digest.cli import cli

from .conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
DOCS = REPO / "docs"
MANUAL = "\n".join(p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md")))
CONFIGURATION = (DOCS / "configuration.md").read_text(encoding="utf-8")


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
def test_every_command_is_in_the_manual_with_help(path: str, command: click.Command) -> None:
    assert f"`digest {path}" in (DOCS / "commands.md").read_text(encoding="utf-8"), (
        f"docs/commands.md lacks `digest {path}`"
    )
    assert command.help and command.help.strip()


def test_readme_starts_with_the_two_commands() -> None:
    first_block = README.split("## Two commands", 1)[1].split("\n\n")[2]
    assert "make demo" in first_block and "make test" in first_block


def test_the_readme_is_a_front_door() -> None:
    assert len(README.splitlines()) <= 350
    for heading in ("## Two commands", "## A week, step by step", "## Where to read on"):
        assert heading in README


def test_the_settings_tables_are_the_declarations() -> None:
    """`make docs` writes them; a setting added or changed without it fails here."""
    from digest.config import settings_reference

    block = CONFIGURATION.split("<!-- settings: made by `make docs` -->\n", 1)[1].split(
        "<!-- /settings -->", 1
    )[0]
    assert block == settings_reference(), "docs/configuration.md is stale: run `make docs`"
    for secret in ("DIGEST_SECRET", "DIGEST_SMTP_PASSWORD", "DIGEST_IMAP_PASSWORD"):
        assert f"| `{secret}` |" in block


def _anchors(text: str) -> set[str]:
    return {
        re.sub(r"[ ]", "-", re.sub(r"[^\w\- ]", "", h.strip().lower()))
        for h in re.findall(r"(?m)^#+ (.+)$", text)
    }


def test_the_readmes_links_into_the_manual_resolve() -> None:
    links = re.findall(r"\]\(((?:docs/)?[\w./-]+\.md)(?:#([\w-]+))?\)", README)
    assert len(links) >= 10
    for target, anchor in links:
        path = REPO / target
        assert path.is_file(), target
        if anchor:
            assert anchor in _anchors(path.read_text(encoding="utf-8")), f"{target}#{anchor}"


@pytest.mark.skipif(
    shutil.which("mkdocs", path=str(Path(sys.executable).parent)) is None
    and not os.environ.get("CI"),
    reason="needs MkDocs: pip install -e '.[test]' (mkdocs-material)",
)
@pytest.mark.slow
def test_the_manual_builds_with_every_link_resolving(tmp_path: Path) -> None:
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent)) or "mkdocs"
    done = subprocess.run(
        [mkdocs, "build", "--strict", "--quiet", "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "site" / "commands" / "index.html").is_file()
