"""`digest tokens`: a token shown once, stored hashed, listed without its value, revoked."""

import json
from pathlib import Path

import pytest

from digest import store
from digest.cli import cli
from digest.web.access import hash_token

from ..conftest import ClockedRunner


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> ClockedRunner:
    for name in ("DIGEST_CONFIG", "DIGEST_SECRET", "DIGEST_SMTP_HOST"):
        monkeypatch.delenv(name, raising=False)
    return ClockedRunner()


@pytest.fixture
def cfg(tmp_path: Path, runner: ClockedRunner) -> Path:
    path = tmp_path / "config" / "digest.toml"
    result = runner.invoke(cli, ["--config", str(path), "init"])
    assert result.exit_code == 0, result.output
    return path


def test_a_token_is_shown_once_stored_as_a_hash_listed_and_revoked(
    runner: ClockedRunner, cfg: Path, tmp_path: Path
) -> None:
    made = runner.invoke(
        cli,
        [
            "--config",
            str(cfg),
            "tokens",
            "add",
            "cms",
            "--scope",
            "articles:write,editions:read",
            "--json",
        ],
    )
    assert made.exit_code == 0, made.output
    data = json.loads(made.stdout)
    assert data["scopes"] == ["articles:write", "editions:read"]
    token = data["token"]
    assert token.startswith("dgt_") and len(token) > 40
    db_file = next((tmp_path / "var").glob("*.db"))
    raw = db_file.read_bytes()
    assert token.encode() not in raw  # only the hash is kept
    db = store.open_store(db_file)
    assert store.token_by_hash(db, hash_token(token)) is not None
    db.close()

    listed = runner.invoke(cli, ["--config", str(cfg), "tokens", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert token not in listed.stdout
    assert [t["name"] for t in json.loads(listed.stdout)["tokens"]] == ["cms"]

    again = runner.invoke(
        cli, ["--config", str(cfg), "tokens", "add", "cms", "--scope", "stats:read"]
    )
    assert again.exit_code == 1 and "exists" in again.output

    gone = runner.invoke(cli, ["--config", str(cfg), "tokens", "remove", "cms"])
    assert gone.exit_code == 0, gone.output
    assert "revoked" in gone.stdout
    missing = runner.invoke(cli, ["--config", str(cfg), "tokens", "remove", "cms"])
    assert missing.exit_code == 1 and "tokens list" in missing.output


def test_an_unknown_scope_is_refused_with_the_known_ones(runner: ClockedRunner, cfg: Path) -> None:
    bad = runner.invoke(cli, ["--config", str(cfg), "tokens", "add", "x", "--scope", "admin"])
    assert bad.exit_code == 1
    assert "unknown scope admin" in bad.output and "subscribers:import" in bad.output
