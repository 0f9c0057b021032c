"""The command-line contract: exit codes, error text, --json shapes."""

import json
from pathlib import Path

import pytest
from click.testing import Result

from digest.cli import cli

from ..conftest import REPO, ClockedRunner, needs_testdata


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> ClockedRunner:
    for name in ("DIGEST_CONFIG", "DIGEST_SECRET", "DIGEST_SMTP_HOST"):
        monkeypatch.delenv(name, raising=False)
    return ClockedRunner()


@pytest.fixture
def cfg(tmp_path: Path, runner: ClockedRunner) -> Path:
    path = tmp_path / "config" / "digest.toml"
    result = runner.invoke(cli, ["--config", str(path), "init", "--demo"])
    assert result.exit_code == 0, result.output
    return path


def invoke(runner: ClockedRunner, cfg: Path, *args: str) -> Result:
    return runner.invoke(cli, ["--config", str(cfg), *args])


def test_init_demo_then_send_writes_the_outbox_and_resend_sends_nothing(
    runner: ClockedRunner, cfg: Path, tmp_path: Path
) -> None:
    first = invoke(runner, cfg, "send", "--json")
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    assert data["sent"] == 6 and data["failed"] == 0 and data["already_sent"] is False
    emls = sorted((tmp_path / "var" / "outbox" / data["week"]).glob("*.eml"))
    assert len(emls) == 6
    assert data["transport"] == f"outbox {emls[0].parent}"
    second = invoke(runner, cfg, "send")
    assert second.exit_code == 0
    assert f"Edition {data['week']} was already sent (6 sent); nothing to send." in second.stdout
    status = json.loads(invoke(runner, cfg, "status", "--json").stdout)
    assert status["editions"][0]["week"] == data["week"]
    assert status["editions"][0]["sent"] == 6 and status["editions"][0]["status"] == "sent"


def test_week_without_articles_is_no_edition_and_exit_0(runner: ClockedRunner, cfg: Path) -> None:
    result = invoke(runner, cfg, "send", "--week", "2020-W10")
    assert result.exit_code == 0
    assert result.stdout == "No published articles in 2020-W10: no edition this week.\n"


def test_dry_run_counts_and_stores_nothing(runner: ClockedRunner, cfg: Path) -> None:
    result = invoke(runner, cfg, "send", "--dry-run", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["pending"] == 6
    assert json.loads(invoke(runner, cfg, "status", "--json").stdout) == {
        "editions": [],
        "queued_emails": {},
    }


def test_bad_week_is_a_usage_error_naming_the_option(runner: ClockedRunner, cfg: Path) -> None:
    result = invoke(runner, cfg, "send", "--week", "2026-47")
    assert result.exit_code == 2  # the caller's input, not the data: a usage error
    assert result.stderr.endswith("Error: --week '2026-47': expected an ISO week like 2026-W47.\n")


def test_missing_config_tells_how_to_create_one(runner: ClockedRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["--config", str(tmp_path / "none.toml"), "status"])
    assert result.exit_code == 1
    assert "Run `python -m digest init` to create one" in result.stderr


def test_bad_config_value_names_key_and_file(runner: ClockedRunner, cfg: Path) -> None:
    cfg.write_text(cfg.read_text().replace("port = 587", 'port = "five"'))
    result = invoke(runner, cfg, "status")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: [smtp] port = 'five' in ")
    assert "digest.toml or DIGEST_SMTP_PORT: expected a whole number." in result.stderr


def test_env_override_of_a_bad_value(runner: ClockedRunner, cfg: Path) -> None:
    result = runner.invoke(cli, ["--config", str(cfg), "status"], env={"DIGEST_SMTP_TLS": "ssl"})
    assert result.exit_code == 1 and "[smtp] tls = 'ssl'" in result.stderr


def test_usage_errors_exit_2(runner: ClockedRunner, cfg: Path) -> None:
    assert invoke(runner, cfg, "send", "--nope").exit_code == 2
    assert invoke(runner, cfg, "no-such-command").exit_code == 2


def test_import_reports_bad_rows_and_prints_json(
    runner: ClockedRunner, cfg: Path, tmp_path: Path
) -> None:
    source = tmp_path / "new.jsonl"
    source.write_text('{"url": "https://news.example.com/n1", "title": "New"}\n{"title": "x"}\n')
    result = invoke(runner, cfg, "import", str(source), "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "added": 1,
        "updated": 0,
        "unchanged": 0,
        "skipped": 1,
        "errors": [{"line": 2, "reason": "url is required", "value": None}],
    }
    plain = invoke(runner, cfg, "import", str(source))
    assert plain.stdout == "0 added, 0 updated, 1 unchanged, 1 skipped\n"
    assert "line 2: url is required" in plain.stderr


def test_articles_list_json(runner: ClockedRunner, cfg: Path) -> None:
    everything = json.loads(invoke(runner, cfg, "articles", "list", "--json").stdout)
    assert len(everything["articles"]) == 12
    assert set(everything["articles"][0]) >= {"url", "title", "published_at", "topics"}
    empty = json.loads(
        invoke(runner, cfg, "articles", "list", "--week", "2020-W01", "--json").stdout
    )
    assert empty == {"articles": []}


def test_subscriber_commands(runner: ClockedRunner, cfg: Path, tmp_path: Path) -> None:
    assert (
        invoke(
            runner, cfg, "subscribers", "add", "New@Example.ORG", "--name", "N", "--topics", "DNS"
        ).stdout
        == "New@example.org: added\n"
    )
    bad = invoke(runner, cfg, "subscribers", "add", "not-an-address")
    assert bad.exit_code == 1 and bad.stderr.startswith(
        "Error: 'not-an-address' is not a valid address"
    )
    assert invoke(runner, cfg, "subscribers", "remove", "new@example.org").exit_code == 0
    again = invoke(runner, cfg, "subscribers", "add", "new@example.org")
    assert again.exit_code == 1 and "subscribers reactivate EMAIL" in again.stderr
    listed = json.loads(
        invoke(runner, cfg, "subscribers", "list", "--status", "unsubscribed", "--json").stdout
    )
    assert listed == {
        "subscribers": [
            {
                "email": "New@example.org",
                "name": "N",
                "topics": ["dns"],
                "status": "unsubscribed",
                "returned": {"hard_bounces": 0, "soft_bounces": 0, "complaints": 0},
            }
        ]
    }
    assert invoke(runner, cfg, "subscribers", "remove", "ghost@example.org").exit_code == 1
    csv = tmp_path / "subs.csv"
    csv.write_text(
        "email,name,topics\nA@example.org,A,DNS\na@EXAMPLE.org,,New TLDs\nbroken,,\n"
        "new@example.org,Back,\n"
    )
    report = json.loads(invoke(runner, cfg, "subscribers", "import", str(csv), "--json").stdout)
    assert (report["added"], report["merged"], report["kept"], report["skipped"]) == (1, 1, 1, 1)
    assert report["errors"][0]["line"] == 4


def test_preview_writes_html_and_text(runner: ClockedRunner, cfg: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.html"
    result = invoke(runner, cfg, "preview", "--out", str(out))
    assert result.exit_code == 0
    assert out.read_text().startswith("<!DOCTYPE html>")
    text = invoke(runner, cfg, "preview", "--text", "--subscriber", "emeka.obi@example.org")
    assert "Hi Emeka," in text.stdout and "IPV4 MARKETS" in text.stdout
    assert "== DNS ==" not in text.stdout
    missing = invoke(runner, cfg, "preview", "--subscriber", "ghost@example.org")
    assert (
        missing.exit_code == 1
        and missing.stderr == "Error: ghost@example.org is not on the list.\n"
    )


def test_excerpt_command(runner: ClockedRunner, tmp_path: Path) -> None:
    page = tmp_path / "a.html"
    page.write_text(
        "<html><head><title>T</title></head><body><h1>Head line</h1>"
        "<p>First sentence. Second sentence.</p></body></html>"
    )
    result = runner.invoke(
        cli,
        ["--config", str(tmp_path / "none.toml"), "excerpt", str(page), "--chars", "20", "--json"],
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "title": "Head line",
        "excerpt": "First sentence.",
        "method": "trafilatura",
    }


def test_bounced_readers_exit_1_with_the_count(
    runner: ClockedRunner, cfg: Path, smtp_server: tuple
) -> None:
    controller, handler = smtp_server
    handler.refuse["ben.hughes@example.org"] = "550 5.1.1 No such user"
    env = {
        "DIGEST_SMTP_HOST": "127.0.0.1",
        "DIGEST_SMTP_PORT": str(controller.port),
        "DIGEST_SMTP_TLS": "none",
        "DIGEST_SECRET": "s" * 32,
    }
    result = runner.invoke(cli, ["--config", str(cfg), "send", "--json"], env=env)
    assert result.exit_code == 1
    assert json.loads(result.stdout)["bounced"] == 1
    assert json.loads(result.stdout)["transport"] == f"SMTP relay 127.0.0.1:{controller.port}"
    assert result.stderr == (
        "Error: 1 addresses were refused by the relay and are off the list; "
        "`digest subscribers list --status bounced` names them.\n"
    )
    assert len(handler.received) == 5


@needs_testdata
def test_feed_commands_and_import(runner: ClockedRunner, cfg: Path) -> None:
    feed = REPO.parent / "shared" / "testdata" / "feeds"
    result = invoke(runner, cfg, "import", str(feed / "rss-parser__heraldsun.rss"), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["added"], data["skipped"]) == (2, 0) and data["feeds"][0]["status"] == "ok"
    added = invoke(
        runner, cfg, "feeds", "add", "HTTPS://Blog.Example.COM/feed?utm_source=x", "--topic", "DNS"
    )
    assert added.stdout == "https://blog.example.com/feed: added\n"
    listed = json.loads(invoke(runner, cfg, "feeds", "list", "--json").stdout)
    assert [f["url"] for f in listed["feeds"]] == ["https://blog.example.com/feed"]
    assert invoke(runner, cfg, "feeds", "add", "not a url").exit_code == 1
    assert invoke(runner, cfg, "import").exit_code == 2  # neither SOURCE nor --feeds
    assert invoke(runner, cfg, "feeds", "remove", "https://blog.example.com/feed").exit_code == 0
    gone = invoke(runner, cfg, "feeds", "remove", "https://blog.example.com/feed")
    assert gone.exit_code == 1 and "is not in the feed list" in gone.stderr


def test_feeds_add_takes_a_feed_file_as_import_does(
    runner: ClockedRunner, cfg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = tmp_path / "site" / "feed.xml"
    feed.parent.mkdir()
    feed.write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Site</title>'
        "<item><title>One</title><link>https://site.example.org/one</link>"
        "<pubDate>Wed, 18 Nov 2026 12:00:00 GMT</pubDate><description>First.</description>"
        "</item></channel></rss>"
    )
    monkeypatch.chdir(feed.parent)
    relative = invoke(runner, cfg, "feeds", "add", "./feed.xml")
    assert relative.exit_code == 0, relative.output
    assert relative.stdout == f"{feed}: added\n"  # kept absolute: any folder finds it
    as_url = invoke(runner, cfg, "feeds", "add", feed.as_uri())
    assert as_url.stdout == f"{feed}: unchanged\n"
    missing = invoke(runner, cfg, "feeds", "add", "./nothing.xml")
    assert missing.exit_code == 1 and "there is no feed file at" in missing.stderr
    ftp = invoke(runner, cfg, "feeds", "add", "ftp://site.example.org/feed.xml")
    assert ftp.exit_code == 1 and "an http(s) URL, a file:// URL or the path" in ftp.stderr
    monkeypatch.chdir(tmp_path)
    imported = json.loads(invoke(runner, cfg, "import", "--feeds", "--json").stdout)
    assert imported["added"] == 1 and imported["feeds"][0]["source"] == str(feed)
    assert json.loads(invoke(runner, cfg, "import", feed.as_uri(), "--json").stdout)["feeds"]
    assert invoke(runner, cfg, "feeds", "remove", str(feed)).exit_code == 0
    none = invoke(runner, cfg, "import", "--feeds")
    assert none.exit_code == 0
    assert none.stdout == "No feeds are configured: add one with `digest feeds add URL`.\n"


def test_unreadable_feed_exits_1_and_says_so(
    runner: ClockedRunner, cfg: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"\x00\x01 nothing")
    result = invoke(runner, cfg, "import", str(bad))
    assert result.exit_code == 1
    assert "not a readable feed" in result.stderr
    assert "1 of 1 feeds could not be read; the others were imported." in result.stderr


def test_send_test_via_cli_to_the_outbox(runner: ClockedRunner, cfg: Path, tmp_path: Path) -> None:
    result = invoke(runner, cfg, "send", "--test", "Editor@Example.com, desk@example.com")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Test copy of ")
    assert "Editor@example.com, desk@example.com" in result.stdout
    week = result.stdout.split()[3]
    assert len(list((tmp_path / "var" / "outbox" / week / "test").glob("*.eml"))) == 2
    assert json.loads(invoke(runner, cfg, "status", "--json").stdout) == {
        "editions": [],
        "queued_emails": {},
    }
    bad = invoke(runner, cfg, "send", "--test", "nobody")
    assert bad.exit_code == 1 and bad.stderr.startswith("Error: --test: 'nobody' is not a valid")


@pytest.mark.parametrize("week", ["9999-W52", "0001-W01", "2026-W99", "2026-47"])
def test_a_bad_week_is_a_usage_error_on_every_command(
    runner: ClockedRunner, cfg: Path, week: str
) -> None:
    for command in (["send", "--dry-run"], ["preview"], ["lint"], ["articles", "list"]):
        result = invoke(runner, cfg, *command, "--week", week)
        assert result.exit_code == 2, (command, result.output)
        assert f"--week {week!r}" in result.stderr


def test_out_of_range_dates_never_reach_the_store_so_listing_keeps_working(
    runner: ClockedRunner, cfg: Path, tmp_path: Path
) -> None:
    source = tmp_path / "odd.jsonl"
    source.write_text(
        '{"url": "https://n.example.com/1", "title": "Y1", "published_at": "0001-01-01"}\n'
        '{"url": "https://n.example.com/2", "title": "Y9", "published_at": "9999-12-31T23:59"}\n'
        '{"url": "https://n.example.com/3", "title": "Ok", "published_at": "2026-11-18"}\n'
    )
    result = invoke(runner, cfg, "import", str(source), "--json")
    assert result.exit_code == 0, result.output
    assert (json.loads(result.stdout)["added"], json.loads(result.stdout)["skipped"]) == (1, 2)
    listing = invoke(runner, cfg, "articles", "list", "--json")
    assert listing.exit_code == 0, listing.output


def test_test_copies_in_outbox_mode_say_where_they_were_written(
    runner: ClockedRunner, cfg: Path
) -> None:
    result = invoke(runner, cfg, "send", "--test", "desk@example.com")
    assert result.exit_code == 0, result.output
    assert "written to" in result.stdout and "(no [smtp] host)" in result.stdout
    folder = Path(result.stdout.split("written to ")[1].split(" (no")[0])
    assert [p.name for p in folder.glob("*.eml")] == ["desk@example.com.eml"]


def test_a_dry_run_names_who_is_skipped_and_why(runner: ClockedRunner, cfg: Path) -> None:
    assert (
        invoke(
            runner, cfg, "subscribers", "add", "brand@example.org", "--topics", "Brand Protection"
        ).exit_code
        == 0
    )
    result = invoke(runner, cfg, "send", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would skip brand@example.org: nothing this week in the chosen topics" in result.stdout
    data = json.loads(invoke(runner, cfg, "send", "--dry-run", "--json").stdout)
    assert [s["email"] for s in data["skipped_subscribers"]] == ["brand@example.org"]


def test_subscriber_import_warns_of_unknown_topics_and_needs_an_email_column(
    runner: ClockedRunner, cfg: Path, tmp_path: Path
) -> None:
    good = tmp_path / "s.csv"
    good.write_text("email,name,topics\na@example.org,A,DNS\nb@example.org,B,Gardening\n")
    result = invoke(runner, cfg, "subscribers", "import", str(good))
    assert result.exit_code == 0, result.output
    assert "no section has the topics Gardening" in result.stderr
    assert "DNS" not in result.stderr.split("topics ")[1].split(";")[0]
    headless = tmp_path / "h.csv"
    headless.write_text("a@example.org,A,DNS\n")
    result = invoke(runner, cfg, "subscribers", "import", str(headless))
    assert result.exit_code == 1
    assert "has no 'email' column (its columns: a, a@example.org, dns)" in result.stderr


def test_excerpt_of_a_binary_file_is_an_error(runner: ClockedRunner, tmp_path: Path) -> None:
    picture = tmp_path / "photo.jpg"
    picture.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(range(256)) * 8)
    result = runner.invoke(cli, ["excerpt", str(picture)])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: That file is not text or HTML")


def test_sending_the_week_still_running_needs_force(runner: ClockedRunner, cfg: Path) -> None:
    from digest.config import load_config
    from digest.content.weeks import week_containing

    config = load_config(cfg, {})
    current = week_containing(runner.now, config.tz).label
    result = invoke(runner, cfg, "send", "--week", current)
    assert result.exit_code == 1
    assert f"Error: {current} is not over until" in result.stderr and "--force" in result.stderr
    forced = invoke(runner, cfg, "send", "--week", current, "--force")
    assert forced.exit_code == 0, forced.output  # the demo has no articles this week
    assert "No published articles" in forced.stdout


def test_init_without_demo_writes_placeholders_that_send_refuses(
    runner: ClockedRunner, tmp_path: Path
) -> None:
    path = tmp_path / "fresh" / "digest.toml"
    result = runner.invoke(cli, ["--config", str(path), "init"])
    assert result.exit_code == 0, result.output
    assert "CHANGE-ME" in path.read_text()
    result = runner.invoke(cli, ["--config", str(path), "subscribers", "add", "a@example.org"])
    assert result.exit_code == 0
    result = runner.invoke(cli, ["--config", str(path), "send", "--test", "a@example.org"])
    assert result.exit_code == 1
    assert "name, from, base_url, postal_address" in result.stderr
    assert "CHANGE-ME values" in result.stderr


def test_init_writes_a_neutral_publication_with_the_readmes_defaults(
    runner: ClockedRunner, tmp_path: Path
) -> None:
    """A new publication's file carries nobody else's sections, topics, sponsor or
    timezone, every setting at the default the manual's table lists, each said."""
    import re
    import tomllib

    from digest.config import _shown, declared_settings, load_config

    path = tmp_path / "fresh" / "digest.toml"
    assert runner.invoke(cli, ["--config", str(path), "init"]).exit_code == 0
    text = path.read_text(encoding="utf-8")
    written = tomllib.loads(text)
    assert written["digest"]["section_order"] == []
    assert written["topics"] == {} and written["sponsors"] == {}
    assert written["newsletter"]["timezone"] == "UTC"
    config = load_config(path, {})
    assert config.sponsors == {} and config.topic_aliases == {}
    assert "Example Registry" not in text and "Vancouver" not in text
    readme = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| `\[(\w+\] \w+)` \| ([^|]*) \|", readme, re.M))
    lines: dict[tuple[str, str], str] = {}
    section = ""
    for line in text.splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif " = " in line and not line.startswith("#"):
            lines[section, line.split(" = ", 1)[0]] = line
    checked = 0
    for d in declared_settings():
        if d.rule.secret:
            assert f"{d.section.upper()}_{d.key.upper()}" in text  # named among the secrets
            continue
        value = written[d.section][d.key]
        line = lines[d.section, d.key]
        assert d.rule.doc in line  # each setting says what it does
        if "CHANGE-ME" in str(value) or "change-me.example" in str(value):
            assert "SET THIS" in line
            continue
        cell = table[f"{d.section}] {d.key}"].strip()
        assert _shown(tuple(value) if isinstance(value, list) else value) == cell, d.key
        checked += 1
    assert checked > 60


def test_run_does_the_scheduled_run_once_and_its_dry_run_changes_nothing(
    runner: ClockedRunner, cfg: Path, tmp_path: Path
) -> None:
    import json
    import sqlite3

    from digest.config import load_config

    config = load_config(cfg, {})

    def rows() -> dict[str, int]:
        with sqlite3.connect(config.store_path) as db:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            return {t: db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}

    gone = tmp_path / "gone.xml"
    gone.write_text("<rss/>")
    assert invoke(runner, cfg, "feeds", "add", str(gone)).exit_code == 0
    gone.unlink()  # the feed file went away after it was added
    before = rows()
    dry = invoke(runner, cfg, "run", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    planned = json.loads(dry.stdout)
    assert planned["dry_run"] is True and planned["week"] == "2026-W47"
    steps = {s["step"]: s for s in planned["steps"]}
    assert list(steps) == ["feeds", "returns", "sunset", "queued emails", "sign-ups", "send"]
    assert steps["sunset"]["status"] == "skipped"  # off by default
    assert steps["send"]["status"] == "would" and "6 would be sent" in steps["send"]["said"]
    assert steps["feeds"]["said"] == "1 feeds would be fetched and imported"
    assert rows() == before and not config.outbox_path.exists()

    done = invoke(runner, cfg, "run")
    assert done.exit_code == 1  # the feed is gone: said, and cron notices
    assert "gone.xml failed" in done.stdout
    assert "2026-W47: 6 sent" in done.stdout
    assert "Error: the weekly run had failed steps (feeds)" in done.stderr
    assert len(list((config.outbox_path / "2026-W47").glob("*.eml"))) == 6


def test_cron_runs_the_scheduled_run() -> None:
    lines = [
        line
        for line in (REPO / "cron.example").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "CRON_TZ"))
    ]
    assert lines and all("-m digest run" in line for line in lines)


def test_the_cli_starts_without_loading_the_pipeline() -> None:
    """Commands import their use cases inside the function (see `digest/cli/__init__.py`):
    importing the CLI loads none of the pipeline's heavy libraries."""
    import subprocess
    import sys

    heavy = (
        "premailer", "lxml", "jinja2", "starlette", "uvicorn", "aiosmtplib", "feedparser",
        "boto3", "apscheduler", "httpx", "cryptography", "dkim",
    )  # fmt: skip
    probe = f"import sys, digest.cli; print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert done.stdout.strip() == ""
