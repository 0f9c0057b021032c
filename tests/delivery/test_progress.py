import io
from pathlib import Path

import click
import pytest

from digest.cli.app import SHARD
from digest.delivery.progress import SendProgress
from digest.errors import EditionError


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
