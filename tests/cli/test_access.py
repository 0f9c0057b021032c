"""`digest tokens`: a token shown once, stored hashed, listed without its value, revoked."""

import json
from pathlib import Path

import pytest
from click.testing import Result

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


def test_webhooks_add_prints_the_secret_once_then_list_test_rotate_remove(
    runner: ClockedRunner, cfg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ..hooks.receiver import receiver

    monkeypatch.setenv("DIGEST_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true")
    with receiver() as hook:

        def run(*args: str) -> Result:
            return runner.invoke(cli, ["--config", str(cfg), "webhooks", *args])

        added = run("add", hook.url, "--events", "subscriber.confirmed,edition.sent", "--json")
        assert added.exit_code == 0, added.output
        made = json.loads(added.stdout)
        assert made["secret"].startswith("whsec_")
        assert made["events"] == ["edition.sent", "subscriber.confirmed"]
        listed = run("list", "--json")
        assert made["secret"] not in listed.stdout
        assert json.loads(listed.stdout)["endpoints"][0]["enabled"] is True
        tested = run("test", "1", "--json")
        assert tested.exit_code == 0, tested.output
        assert json.loads(tested.stdout)["delivered"] is True
        assert hook.got[0].headers["webhook-id"] == json.loads(tested.stdout)["id"]
        rotated = run("rotate", "1", "--json")
        assert json.loads(rotated.stdout)["secret"] not in (made["secret"], "")
        hook.answer = lambda _: 500
        failed = run("test", "1")
        assert failed.exit_code == 1 and "answered 500" in failed.stdout
        assert run("remove", "1").exit_code == 0
        assert "no webhook endpoint has id 1" in run("remove", "1").output
    bad = runner.invoke(
        cli,
        ["--config", str(cfg), "webhooks", "add", "https://crm.example.com/h", "--events", "x.y"],
    )
    assert bad.exit_code == 1 and "unknown event x.y" in bad.output
