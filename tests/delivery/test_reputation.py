"""The complaint and bounce-rate guard: per receiving provider group, over the copies
accepted, the last edition's complaints and hard bounces hold the next scheduled run (a
test copy to the editors, then `approve`) or make `send` refuse without --force; a group
under its minimum never triggers; `status --json` shows each group."""

import logging
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from digest import store
from digest.approval import approve_week, release_held, run_weekly
from digest.content.frozen import edition_payload
from digest.content.weeks import week_window
from digest.delivery.reputation import provider_group, verdict_before
from digest.delivery.sending import edition_status, send_edition
from digest.errors import ReputationError
from digest.models import SOFT_LIMIT_DETAIL, Edition, RenderedVariant

from ..conftest import NOW, SECRET, make_config
from ..fixtures import load_week

LAST = "2026-W46"  # the edition the guard judges
WEEK = "2026-W47"  # the one it decides about


def _last_edition(
    db: Any, groups: dict[str, tuple[int, int, int]], soft_limited: int = 0, week: str = LAST
) -> int:
    """An edition of LAST accepted for ``groups``: {domain: (accepted, complaints, hard
    bounces)}; the readers then leave the list (they are not in the next edition)."""
    readers: dict[str, list[int]] = {}
    for domain, (accepted, _, _) in groups.items():
        for i in range(accepted):
            readers.setdefault(domain, []).append(
                store.insert_subscriber(db, f"r{i}@{domain}", "", [], NOW)
            )
    variant = RenderedVariant("", "Subject", "<p>x</p>", "x", 1)
    payload = edition_payload(Edition(week_window(week, ZoneInfo("UTC")), ()))
    edition = store.freeze_edition(db, week, payload, [variant], NOW)
    db.execute("UPDATE deliveries SET status = 'sent' WHERE edition_id = ?", [edition])
    for domain, (_, complaints, bounces) in groups.items():
        ids = readers[domain]
        for sid in ids[:complaints]:
            store.add_event(db, sid, "complaint", "arf", NOW, "feedback-type abuse", edition)
        for sid in ids[complaints : complaints + bounces]:
            store.add_event(db, sid, "bounced", "dsn", NOW, "5.1.1 user unknown", edition)
        for sid in ids[complaints + bounces : complaints + bounces + soft_limited]:
            detail = f"{SOFT_LIMIT_DETAIL}3 editions (soft_limit 3)"
            store.add_event(db, sid, "bounced", "dsn", NOW, detail, edition)
    db.execute("UPDATE subscribers SET status = 'unsubscribed'")
    return edition


@pytest.mark.parametrize(
    ("domain", "provider"),
    [
        ("gmail.com", "gmail"),
        ("GoogleMail.com", "gmail"),
        ("yahoo.co.uk", "yahoo"),
        ("aol.com", "yahoo"),
        ("ymail.com", "yahoo"),
        ("hotmail.fr", "outlook"),
        ("live.com", "outlook"),
        ("outlook.com", "outlook"),
        ("example.org", "other"),
        ("mail.gmail.com.example.net", "other"),
        ("livejournal.example", "other"),
    ],
)
def test_each_domain_has_its_provider_group(domain: str, provider: str) -> None:
    assert provider_group(domain) == provider


@pytest.mark.parametrize(
    ("accepted", "complaints", "bounces", "holds", "refuses"),
    [
        (2000, 2, 0, True, False),  # 0.10%: reached
        (1818, 2, 0, True, False),  # 0.11%
        (2222, 2, 0, False, False),  # 0.09%
        (2000, 5, 0, True, False),  # 0.25%
        (1935, 6, 0, True, True),  # 0.31%
        (2000, 0, 39, False, False),  # 1.95% hard bounces
        (2000, 0, 40, True, False),  # 2%
        (2000, 0, 100, True, True),  # 5%
        (999, 50, 100, False, False),  # a group under its minimum never triggers
    ],
)
def test_the_guard_judges_the_last_edition_per_group(
    tmp_path: Any, accepted: int, complaints: int, bounces: int, holds: bool, refuses: bool
) -> None:
    config = make_config(tmp_path)
    db = store.open_store(config.store_path)
    _last_edition(db, {"gmail.com": (accepted, complaints, bounces)})
    verdict = verdict_before(config, db, WEEK)
    assert (verdict.holds, verdict.refuses) == (holds, refuses)
    assert verdict.judged == LAST
    if holds:
        text = verdict.describe()
        assert LAST in text and "gmail.com/googlemail.com" in text and f"{accepted:,}" in text
        assert ("complaints" if complaints else "hard bounces") in text


def test_groups_are_counted_apart_and_soft_limit_bounces_are_no_hard_bounces(
    tmp_path: Any,
) -> None:
    """3 complaints spread over gmail.com and googlemail.com reach 0.1% of their group;
    the same in Yahoo's small group does not count; 60 readers bounced only for their
    soft bounces are no hard-bounce rate."""
    config = make_config(tmp_path)
    db = store.open_store(config.store_path)
    edition = _last_edition(
        db,
        {
            "gmail.com": (1500, 1, 0),
            "googlemail.com": (1000, 2, 0),
            "yahoo.com": (500, 10, 0),
            "example.org": (1200, 0, 0),
        },
        soft_limited=60,
    )
    verdict = verdict_before(config, db, WEEK)
    assert [(b.group, b.what) for b in verdict.breaches] == [("gmail", "complaints")]
    groups = edition_status(db)[0]["groups"]
    assert groups["gmail"] == {"accepted": 2500, "hard_bounces": 0, "complaints": 3}
    assert groups["yahoo"] == {"accepted": 500, "hard_bounces": 0, "complaints": 10}
    assert groups["other"]["accepted"] == 1200 and groups["outlook"]["accepted"] == 0
    assert edition_status(db)[0]["edition"] == edition
    # a complaint about a copy never accepted (a send-time refusal) is not counted
    reader = store.insert_subscriber(db, "late@gmail.com", "", [], NOW)
    store.add_event(db, reader, "complaint", "arf", NOW, "", edition)
    assert edition_status(db)[0]["groups"]["gmail"]["complaints"] == 3


def test_the_weekly_run_holds_after_the_hold_rate_and_waits_for_approval(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(
        tmp_path, schedule={"editors": ["desk@example.com"], "approve_after_hours": 1}
    )
    db = store.open_store(config.store_path)
    _last_edition(db, {"gmail.com": (2000, 3, 0)})  # 0.15%
    load_week(config, db, NOW)
    with caplog.at_level(logging.WARNING, logger="digest.approval"):
        run = run_weekly(config, lambda: NOW)
    assert run.send is None and not run.failed
    steps = {s.name: s for s in run.steps}
    assert "0.15% complaints" in steps["reputation"].said  # `digest run` prints it
    assert steps["hold"].status == "done"
    said = caplog.text
    assert "reputation guard" in said and LAST in said and "0.15% complaints" in said
    assert "gmail.com/googlemail.com" in said and "complaint_hold" in said
    tests = list((config.outbox_path / WEEK / "test").glob("*.eml"))
    assert [p.name for p in tests] == ["desk@example.com.eml"]
    assert store.get_edition(db, WEEK) is None
    # the hold's delay never releases what the guard holds: only an approval does
    from datetime import timedelta

    assert release_held(config, lambda: NOW + timedelta(hours=2)) is None
    _, report = approve_week(config, db, WEEK, "editor", lambda: NOW)
    assert report is not None and report.count("sent") == 6


def test_the_weekly_run_sends_below_the_hold_rate(tmp_path: Any) -> None:
    config = make_config(tmp_path)
    db = store.open_store(config.store_path)
    _last_edition(db, {"gmail.com": (2222, 2, 0)})  # 0.09%
    load_week(config, db, NOW)
    run = run_weekly(config, lambda: NOW)
    assert run.send is not None and run.send.count("sent") == 6
    assert "reputation" not in {s.name for s in run.steps}


def test_send_refuses_at_the_refuse_rate_without_force(tmp_path: Any) -> None:
    config = make_config(tmp_path)
    db = store.open_store(config.store_path)
    _last_edition(db, {"outlook.com": (1935, 6, 0)})  # 0.31%
    load_week(config, db, NOW)
    window = week_window(WEEK, config.tz)
    dry = send_edition(config, db, window, lambda: NOW, dry_run=True)
    assert dry is not None and any("0.31% complaints" in w for w in dry.warnings)
    with pytest.raises(ReputationError, match=r"0\.31% complaints.*Outlook.*--force"):
        send_edition(config, db, window, lambda: NOW)
    assert store.get_edition(db, WEEK) is None  # nothing frozen, nothing sent
    report = send_edition(config, db, window, lambda: NOW, force=True)
    assert report is not None and report.count("sent") == 6


def test_send_and_status_on_the_command_line(tmp_path: Any) -> None:
    import json

    from digest.cli import cli
    from digest.config import load_config

    from ..conftest import ClockedRunner

    runner = ClockedRunner()
    cfg = tmp_path / "config" / "digest.toml"
    env = {"DIGEST_SECRET": SECRET, "DIGEST_SMTP_HOST": ""}
    args = ["--config", str(cfg)]
    assert runner.invoke(cli, [*args, "init", "--demo"], env=env).exit_code == 0
    config = load_config(cfg, env)
    db = store.open_store(config.store_path)
    # an earlier edition, 5% of whose gmail copies bounced hard, before the demo week
    _last_edition(db, {"gmail.com": (1000, 0, 50)}, week="2001-W01")
    db.execute("UPDATE subscribers SET status = 'active' WHERE email NOT LIKE '%@gmail.com'")
    refused = runner.invoke(cli, [*args, "send", "--workers", "1"], env=env)
    assert refused.exit_code != 0
    assert "2001-W01 reached 5.00% hard bounces" in refused.output
    assert "bounce_refuse" in refused.output and "--force" in refused.output
    status = runner.invoke(cli, [*args, "status", "--json"], env=env)
    (edition,) = json.loads(status.output)["editions"]
    assert edition["groups"]["gmail"] == {"accepted": 1000, "hard_bounces": 50, "complaints": 0}
    forced = runner.invoke(cli, [*args, "send", "--force", "--workers", "1", "--json"], env=env)
    assert forced.exit_code == 0, forced.output
    assert json.loads(forced.output)["sent"] == 6
