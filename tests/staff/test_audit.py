"""The audit log: each CLI command that changes readers, editions, feeds or staff
appends a row naming `cli:<user>`; the rows are chained by hash, so an edited or deleted
row is named by `audit verify`, and the table refuses UPDATE and DELETE itself."""

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import Result

from digest import store
from digest.cli import cli
from digest.staff import audit
from digest.staff.audit import Actor

from ..conftest import NOW, ClockedRunner


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> ClockedRunner:
    for name in ("DIGEST_CONFIG", "DIGEST_SECRET", "DIGEST_SMTP_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("USER", "ed")
    return ClockedRunner()


@pytest.fixture
def cfg(tmp_path: Path, runner: ClockedRunner) -> Path:
    path = tmp_path / "config" / "digest.toml"
    result = runner.invoke(cli, ["--config", str(path), "init", "--demo"])
    assert result.exit_code == 0, result.output
    return path


def invoke(runner: ClockedRunner, cfg: Path, *args: str, input: str | None = None) -> Result:
    return runner.invoke(cli, ["--config", str(cfg), *args], input=input)


def _rows(runner: ClockedRunner, cfg: Path) -> list[dict[str, object]]:
    result = invoke(runner, cfg, "audit", "--json")
    assert result.exit_code == 0, result.output
    rows: list[dict[str, object]] = json.loads(result.stdout)["audit"]
    return rows


def test_cli_changes_to_readers_editions_feeds_and_staff_are_logged_and_chained(
    runner: ClockedRunner, cfg: Path
) -> None:
    assert invoke(runner, cfg, "subscribers", "add", "new@example.org").exit_code == 0
    assert invoke(runner, cfg, "subscribers", "remove", "new@example.org").exit_code == 0
    assert invoke(runner, cfg, "subscribers", "reactivate", "new@example.org").exit_code == 0
    assert invoke(runner, cfg, "note", "A *short* note.").exit_code == 0
    articles = json.loads(invoke(runner, cfg, "articles", "list", "--json").stdout)["articles"]
    url = str(articles[0]["url"])
    featured = invoke(runner, cfg, "articles", "feature", url)
    assert featured.exit_code == 0, featured.output
    assert invoke(runner, cfg, "feeds", "add", "https://blog.example.org/feed").exit_code == 0
    added = invoke(
        runner, cfg, "staff", "add", "Boss@Example.org", "--role", "admin", "--password-stdin",
        input="correct horse battery staple\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "otpauth://totp/" in added.stdout  # admins need a second factor by default
    refused = invoke(runner, cfg, "subscribers", "remove", "nobody@example.org")
    assert refused.exit_code == 1
    assert invoke(runner, cfg, "send", "--dry-run").exit_code == 0  # changes nothing: no row
    sent = invoke(runner, cfg, "send")
    assert sent.exit_code == 0, sent.output

    rows = _rows(runner, cfg)
    assert [r["action"] for r in rows] == [
        "reader.add", "reader.remove", "reader.reactivate", "note.set", "lead.feature",
        "feed.add", "staff.add", "reader.remove", "edition.send",
    ]  # fmt: skip
    assert {r["actor"] for r in rows} == {"cli:ed"} and {r["role"] for r in rows} == {"operator"}
    assert rows[0]["target"] == "new@example.org" and rows[0]["target_kind"] == "reader"
    assert rows[0]["before_hash"] == "" and rows[0]["after_hash"] != ""
    assert rows[1]["before_hash"] == rows[0]["after_hash"] != rows[1]["after_hash"]
    assert rows[-2]["outcome"] == "refused" and "not on the list" in str(rows[-2]["detail"])
    assert rows[-1]["before_hash"] == "" and rows[-1]["after_hash"] != ""  # frozen and sent
    assert [r["prev_hash"] for r in rows[1:]] == [r["hash"] for r in rows[:-1]]
    listed = invoke(runner, cfg, "audit")
    assert "cli:ed [operator]  reader.add  new@example.org" in listed.stdout
    assert "REFUSED" in listed.stdout
    later = invoke(runner, cfg, "audit", "--since", NOW.strftime("%Y-%m-%d %H:%M:%S"), "--json")
    assert len(json.loads(later.stdout)["audit"]) == len(rows)  # all at NOW
    verified = invoke(runner, cfg, "audit", "verify")
    assert verified.exit_code == 0, verified.output
    assert f"{len(rows)} rows" in verified.stdout


def _tamper(path: Path, *sql: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("DROP TRIGGER audit_log_no_delete")
    for statement in sql:
        conn.execute(statement)
    conn.commit()
    conn.close()


def _logged(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "d.db"
    db = store.open_store(path)
    for n in range(count):
        audit.record(
            db, NOW, Actor("cli:ed", "operator"), "reader.add", f"r{n}@example.org", kind="reader"
        )
    db.close()
    return path


def test_the_table_refuses_update_and_delete(tmp_path: Path) -> None:
    path = _logged(tmp_path, 2)
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit_log SET actor = 'someone' WHERE id = 1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit_log WHERE id = 2")
    conn.close()


@pytest.mark.parametrize(
    ("sql", "bad"),
    [
        ("UPDATE audit_log SET target = 'other@example.org' WHERE id = 3", 3),
        ("DELETE FROM audit_log WHERE id = 2", 3),
        ("DELETE FROM audit_log WHERE id = 1", 2),
        # rewritten whole, its hash made again: the next row's link still breaks
        ("UPDATE audit_log SET hash = 'x' WHERE id = 4", 4),
    ],
)
def test_verify_names_the_first_row_edited_or_deleted(
    tmp_path: Path, runner: ClockedRunner, sql: str, bad: int
) -> None:
    path = _logged(tmp_path, 5)
    assert audit.verify(store.open_store(path)).ok
    _tamper(path, sql)
    verdict = audit.verify(store.open_store(path))
    assert verdict.bad_row == bad, verdict


def test_a_row_rehashed_after_an_edit_breaks_the_next_rows_link(tmp_path: Path) -> None:
    path = _logged(tmp_path, 3)
    db = store.open_store(path)
    row = audit.entries(db)[1]
    row["target"] = "someone-else@example.org"
    forged = audit.row_hash(row)
    db.close()
    _tamper(
        path,
        f"UPDATE audit_log SET target = 'someone-else@example.org', hash = '{forged}' WHERE id = 2",
    )
    assert audit.verify(store.open_store(path)).bad_row == 3


def test_audit_verify_exits_non_zero_naming_the_row(runner: ClockedRunner, cfg: Path) -> None:
    for n in range(3):
        invoke(runner, cfg, "subscribers", "add", f"r{n}@example.org")
    _tamper(
        cfg.parent.parent / "var" / "digest.db", "UPDATE audit_log SET actor = 'x' WHERE id = 2"
    )
    result = invoke(runner, cfg, "audit", "verify")
    assert result.exit_code == 1
    assert "the audit log is broken at row 2" in result.output


def test_a_viewers_listing_masks_readers_addresses(tmp_path: Path) -> None:
    db = store.open_store(_logged(tmp_path, 1))
    audit.record(
        db, NOW, Actor("cli:ed", "operator"), "feed.add", "https://x.example/feed", kind="feed"
    )
    masked = audit.entries(db, masked=True)
    assert masked[0]["target"] == "r***@example.org"
    assert masked[1]["target"] == "https://x.example/feed"
    assert audit.entries(db)[0]["target"] == "r0@example.org"
