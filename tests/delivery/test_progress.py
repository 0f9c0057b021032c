import io
from pathlib import Path
from typing import Any

import click
import pytest

from digest import store
from digest.cli.app import SHARD
from digest.content.weeks import week_window
from digest.delivery.progress import SendProgress
from digest.delivery.sending import send_edition
from digest.errors import DigestError, EditionError

from ..conftest import NOW, SECRET, free_port, make_config
from ..fixtures import load_week


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_log_lines_every_n_with_rate_and_eta() -> None:
    clock = [0.0]
    out = io.StringIO()
    progress = SendProgress(out, every=100, clock=lambda: clock[0])
    for done in range(1, 301):
        clock[0] = done / 50  # 50 messages a second
        progress(done, 300)
    lines = out.getvalue().splitlines()
    assert lines == [
        "sent 100/300   33%  50 msg/s  ETA 4s",
        "sent 200/300   67%  50 msg/s  ETA 2s",
        "sent 300/300  100%  50 msg/s  ETA 0s",
    ]


def test_terminal_bar_redraws_in_place() -> None:
    clock = [0.0]
    out = Tty()
    progress = SendProgress(out, clock=lambda: clock[0])
    progress(1, 4)
    clock[0] = 1.0
    progress(4, 4)
    text = out.getvalue()
    assert text.startswith("\r[#######-----------------------] 1/4")
    assert "\r[##############################] 4/4  100%" in text and text.endswith("\n")


@pytest.mark.parametrize(("text", "shard"), [("1/2", (1, 2)), (" 3 / 3 ", (3, 3))])
def test_the_shard_option_parses_i_over_n(text: str, shard: tuple[int, int]) -> None:
    assert SHARD.convert(text, None, None) == shard


@pytest.mark.parametrize("text", ["1", "a/b", "1/2/3"])
def test_a_shard_that_is_not_i_over_n_is_a_usage_error(text: str) -> None:
    with pytest.raises(click.BadParameter, match="expected i/n"):
        SHARD.convert(text, None, None)


@pytest.mark.parametrize("shard", [(0, 2), (3, 2), (1, 0)])
def test_a_shard_out_of_range_is_refused_by_the_send(
    tmp_path: Path, shard: tuple[int, int]
) -> None:
    from digest import store
    from digest.content.weeks import week_window
    from digest.delivery.sending import send_edition

    from ..conftest import NOW, make_config

    config = make_config(tmp_path)
    db = store.open_store(config.store_path)
    with pytest.raises(EditionError, match=r"--shard .* expected i/n"):
        send_edition(config, db, week_window("2026-W47", config.tz), lambda: NOW, shard=shard)


def test_log_lines_follow_counts_that_jump_and_end_once() -> None:
    import io

    from digest.delivery.progress import SendProgress

    out = io.StringIO()
    progress = SendProgress(stream=out, every=1000, clock=lambda: 1.0)
    for done in (0, 0, 997, 1312, 1900, 2450, 3000, 3000):  # workers report from the ledger
        progress(done, 3000)
    lines = out.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["1,312/3,000", "2,450/3,000", "3,000/3,000"]


@pytest.mark.slow
def test_workers_progress_comes_from_the_workers_not_a_count_of_the_ledger(
    tmp_path: Path, smtp_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    controller, handler = smtp_server
    config = make_config(
        tmp_path,
        env={"DIGEST_SECRET": SECRET},
        smtp={"host": "127.0.0.1", "port": controller.port, "tls": "none"},
    )
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)

    def counted(*args: Any, **kwargs: Any) -> int:
        raise AssertionError("the parent counts the ledger's open rows")

    monkeypatch.setattr(store, "open_delivery_count", counted)  # the parent's only
    seen: list[tuple[int, int]] = []
    report = send_edition(
        config,
        db,
        week_window("2026-W47", config.tz),
        lambda: NOW,
        workers=2,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert report is not None and report.count("sent") == 6 and len(handler.received) == 6
    assert seen[-1] == (6, 6)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


@pytest.mark.slow
def test_readers_who_left_after_the_freeze_count_as_done(tmp_path: Path, smtp_server: Any) -> None:
    controller, _handler = smtp_server
    down = make_config(
        tmp_path,
        env={"DIGEST_SECRET": SECRET},
        smtp={"host": "127.0.0.1", "port": free_port(), "tls": "none", "timeout": 2},
    )
    db = store.open_store(down.store_path)
    load_week(down, db, NOW)
    week = week_window("2026-W47", down.tz)
    with pytest.raises(DigestError):  # frozen, nothing sent: the relay is not there
        send_edition(down, db, week, lambda: NOW)
    store.set_subscriber_status(db, "ana.sousa@example.org", "unsubscribed", NOW)
    up = make_config(
        tmp_path,
        env={"DIGEST_SECRET": SECRET},
        smtp={"host": "127.0.0.1", "port": controller.port, "tls": "none"},
    )
    seen: list[tuple[int, int]] = []
    report = send_edition(
        up, db, week, lambda: NOW, progress=lambda done, total: seen.append((done, total))
    )
    assert report is not None and report.count("sent") == 5 and report.count("skipped") == 1
    assert seen[-1] == (6, 6)
