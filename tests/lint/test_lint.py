"""`digest lint`: the checks an editor runs before sending."""

import http.server
import json
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from digest.cli import cli
from digest.content.fetching import Reach
from digest.lint.edition import check_links, client_support, lint_message

from ..conftest import ClockedRunner, needs_chromium

GOOD_HTML = """<!DOCTYPE html><html lang="en"><head><title>T</title>
<style>.x { border-radius: 4px } @media (max-width: 600px) { .x { width: 100% } }</style>
</head><body><div class="preheader" style="display:none">This week: news</div><h1>News</h1>
<a href="https://news.example.com/a">A</a><a href="mailto:desk@example.com">mail</a>
<img src="https://news.example.com/i.png" alt="" width="10" height="10"></body></html>"""
TEXT = "A readable plain-text part with enough words in it to be a real twin of the HTML. " * 3


def _message(html: str = GOOD_HTML, text: str = TEXT, subject: str = "The Weekly Wrap") -> bytes:
    msg = EmailMessage()
    msg["Subject"] = subject
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def test_a_good_message_has_no_errors_and_names_what_clients_ignore() -> None:
    findings = lint_message(_message(), 100)
    assert [f for f in findings if f.level == "error"] == []
    warnings = {f.message for f in findings}
    assert "border-radius: ignored by Outlook for Windows" in warnings
    assert "@media: ignored by Outlook for Windows" in warnings


@pytest.mark.parametrize(
    ("html", "text", "subject", "check"),
    [
        (GOOD_HTML.replace("https://news.example.com/a", "/a"), TEXT, "S", "links"),
        (
            GOOD_HTML.replace("https://news.example.com/a", "https://news.example.com/a b"),
            TEXT,
            "S",
            "links",
        ),
        (GOOD_HTML.replace(' alt=""', ""), TEXT, "S", "images"),
        (GOOD_HTML.replace(' lang="en"', ""), TEXT, "S", "lang"),
        (GOOD_HTML.replace("<title>T</title>", ""), TEXT, "S", "title"),
        (GOOD_HTML, "short", "S", "text"),
        (GOOD_HTML, TEXT + "<p>tag</p>", "S", "text"),
        (GOOD_HTML.replace("This week: news", ""), TEXT, "S", "preheader"),
        (GOOD_HTML.replace(' width="10"', ' width="100%"'), TEXT, "S", "images"),
        (GOOD_HTML.replace(' height="10"', ' height="auto"'), TEXT, "S", "images"),
        (GOOD_HTML.replace("<h1>News</h1>", ""), TEXT, "S", "h1"),
        (GOOD_HTML.replace("<h1>News</h1>", "<h1>A</h1><h1>B</h1>"), TEXT, "S", "h1"),
        (
            GOOD_HTML.replace(
                "<h1>News</h1>",
                '<h1>News</h1><p style="color:#7b8794">Nov 18 by Ann</p>',
            ),
            TEXT,
            "S",
            "contrast",
        ),
        (
            GOOD_HTML.replace(
                "<h1>News</h1>",
                '<h1>News</h1><table bgcolor="#eef1f5"><tr><td>'
                '<span style="color:#EEF1F5">hidden words</span></td></tr></table>',
            ),
            TEXT,
            "S",
            "contrast",
        ),
    ],
)
def test_each_error(html: str, text: str, subject: str, check: str) -> None:
    errors = [f for f in lint_message(_message(html, text, subject), 100) if f.level == "error"]
    assert [f.check for f in errors] == [check]


def test_size_budget() -> None:
    big = GOOD_HTML.replace("</body>", "<p>" + "x " * 40_000 + "</p></body>")
    assert [f.check for f in lint_message(_message(big), 30) if f.level == "error"] == ["size"]


def test_the_table_names_its_source() -> None:
    table = client_support()
    assert table["_source"].startswith("caniemail.com") and "MIT" in table["_source"]
    assert table["features"]["css-border-radius"]["outlook_windows"] == "no"


@pytest.fixture
def site() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            self.send_response(200 if self.path == "/ok" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_check_links_fetches_each_link(site: str) -> None:
    html = GOOD_HTML.replace("https://news.example.com/a", f"{site}/ok").replace(
        '<a href="mailto', f'<a href="{site}/missing">x</a><a href="mailto'
    )
    # The site is on loopback: reached only with [feeds] allow_private_addresses.
    findings = check_links(_message(html), reach=Reach(allow_private=True))
    assert [f.message for f in findings] == [f"{site}/missing: HTTP 404"]


@pytest.mark.slow
def test_cli_lint_on_the_demo_is_silent_about_what_the_stock_template_does(
    tmp_path: Path,
) -> None:
    runner = ClockedRunner()
    cfg = tmp_path / "config" / "digest.toml"
    assert (
        runner.invoke(
            cli, ["--config", str(cfg), "init", "--demo"], env={"DIGEST_CONFIG": ""}
        ).exit_code
        == 0
    )
    result = runner.invoke(cli, ["--config", str(cfg), "lint", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # No errors, and no warnings about the stock template's deliberate CSS; at most a
    # note that the phone-width drawing was skipped where Chromium is not installed.
    assert data["ok"] is True and {f["level"] for f in data["findings"]} <= {"note"}
    cfg.write_text(
        cfg.read_text().replace(
            'subject = "{name}: {week_label}"',
            'subject = "{name}: {week_label}: {top_title} and more"',
        )
    )
    long = runner.invoke(cli, ["--config", str(cfg), "lint"])
    assert long.exit_code == 0  # a long {top_title} is cut on a phone: a warning
    assert "warning: subject: subject is" in long.stdout


def test_large_text_needs_3_to_1_and_hidden_text_is_not_judged() -> None:
    from digest.lint.colors import contrast, parse_colour

    assert parse_colour("#ABC") == "#aabbcc" and parse_colour("rgb(255, 0, 0)") == "#ff0000"
    assert round(contrast("#7b8794", "#ffffff"), 2) == 3.66
    big = GOOD_HTML.replace("<h1>News</h1>", '<h1 style="font-size:30px;color:#7b8794">News</h1>')
    assert [f for f in lint_message(_message(big), 100) if f.check == "contrast"] == []
    hidden = GOOD_HTML.replace(
        "This week: news", '<span style="color:#ffffff">This week: news</span>'
    )
    assert [f for f in lint_message(_message(hidden), 100) if f.check == "contrast"] == []


def test_lint_checks_every_copy_a_week_would_send(tmp_path: Path) -> None:
    from digest import store
    from digest.config import load_config
    from digest.content.weeks import week_window
    from digest.lint.edition import lint_edition

    from ..conftest import NOW

    runner = ClockedRunner()
    cfg = tmp_path / "c" / "digest.toml"
    assert runner.invoke(cli, ["--config", str(cfg), "init", "--demo"]).exit_code == 0
    config = load_config(cfg, {})
    db = store.open_store(config.store_path)
    report = lint_edition(config, db, week_window("2026-W47", config.tz), NOW, draw=False)
    assert report is not None and report.errors == []
    folder = tmp_path / "tpl"
    import shutil

    from digest.resources import packaged_templates

    shutil.copytree(packaged_templates(), folder)
    body = (folder / "digest.html.j2").read_text()  # pale text only in topic copies
    (folder / "digest.html.j2").write_text(
        body.replace(
            '<p class="intro-text"',
            '<p class="intro-text"{% if chosen_topics %} style="color:#cccccc"{% endif %}',
            1,
        )
    )
    from dataclasses import replace

    broken = replace(config, templates=replace(config.templates, path=str(folder)))
    report = lint_edition(broken, db, week_window("2026-W47", config.tz), NOW, draw=False)
    assert report is not None
    assert report.errors and all(f.check == "contrast" for f in report.errors)
    assert all(" (in the copy for " in f.message for f in report.errors)
    assert any("DNS" in f.message.rpartition(" (in the copy for ")[2] for f in report.errors)


def test_a_long_subject_is_a_warning_and_scripts_without_spaces_wrap() -> None:
    [long] = [f for f in lint_message(_message(subject="S" * 79), 100) if f.check == "subject"]
    assert long.level == "warning" and "79 characters" in long.message
    empty = [f for f in lint_message(_message(subject=""), 100) if f.check == "subject"]
    assert [f.level for f in empty] == ["error"]
    japanese = (
        "東京都、新しい防災計画を発表　避難所を倍増へ首都直下地震に備えた新しい計画を発表した"
    )
    thai = "กรุงเทพมหานครประกาศแผนป้องกันภัยพิบัติฉบับใหม่เพิ่มศูนย์พักพิงเป็นสองเท่า"
    for headline in (japanese, thai, f"IPv6{japanese}"):
        html = GOOD_HTML.replace("<h1>News</h1>", f"<h1>News</h1><h2>{headline}</h2>")
        assert [f for f in lint_message(_message(html), 100) if f.check == "overflow"] == []
    latin = GOOD_HTML.replace("<h1>News</h1>", f"<h1>News</h1><p>東京{'x' * 40}</p>")
    assert [f.check for f in lint_message(_message(latin), 100) if f.level == "error"] == [
        "overflow"
    ]


def test_the_subject_is_measured_as_the_reader_sees_it() -> None:
    portuguese = "Notícias da semana: eleições, economia e a seleção em ação já"
    assert 55 < len(portuguese) <= 78
    raw = _message(subject=portuguese)
    assert b"=?utf-8?" in raw  # encoded in the header, longer than 78 there
    assert [f for f in lint_message(raw, 100) if f.check == "subject"] == []


def test_a_picture_shown_wider_than_it_is_is_stretched() -> None:
    html = GOOD_HTML.replace(
        '<img src="https://news.example.com/i.png" alt="" width="10" height="10">',
        '<img src="https://news.example.com/i.png" alt="" width="552" style="width:100%">',
    )
    natural = {"https://news.example.com/i.png": 30}
    found = [f for f in lint_message(_message(html), 100, natural=natural) if f.level == "error"]
    assert [f.check for f in found] == ["stretched"] and "30 px" in found[0].message
    own = html.replace('width="552" style="width:100%"', 'width="30" style="width:30px"')
    assert [
        f for f in lint_message(_message(own), 100, natural=natural) if f.level == "error"
    ] == []


def test_long_words_with_nothing_to_break_them() -> None:
    url = "https://news.example.com/" + "a-very-long-path-segment" * 3
    html = GOOD_HTML.replace("<h1>News</h1>", f"<h1>News</h1><p>See {url}</p>")
    assert [f.check for f in lint_message(_message(html), 100) if f.level == "error"] == [
        "overflow"
    ]
    wraps = html.replace("<p>See", '<p style="overflow-wrap:anywhere">See')
    assert [f for f in lint_message(_message(wraps), 100) if f.level == "error"] == []


def test_lang_must_be_the_newsletters_and_rtl_languages_need_dir() -> None:
    errors = [f.check for f in lint_message(_message(), 100, language="pt") if f.level == "error"]
    assert errors == ["lang"]
    hebrew = GOOD_HTML.replace('lang="en"', 'lang="he"')
    found = [f.check for f in lint_message(_message(hebrew), 100, language="he")]
    assert "dir" in found
    rtl = hebrew.replace('lang="he"', 'lang="he" dir="rtl"')
    assert "dir" not in [f.check for f in lint_message(_message(rtl), 100, language="he")]


def test_a_template_warns_only_about_what_it_does_not_declare(tmp_path: Path) -> None:
    from digest.lint.checks import accepted_features
    from digest.resources import packaged_templates

    accepted = accepted_features(packaged_templates())
    assert {"css-at-media", "css-border-radius"} <= accepted
    quiet = {f.message for f in lint_message(_message(), 100, accepted=accepted)}
    assert not any("border-radius" in m or "@media" in m for m in quiet)
    (tmp_path / "base.html.j2").write_text("{# digest-lint: accept css-at-media #}")
    mine = {f.message for f in lint_message(_message(), 100, accepted=accepted_features(tmp_path))}
    assert "border-radius: ignored by Outlook for Windows" in mine


@needs_chromium
@pytest.mark.slow
def test_lint_draws_each_copy_at_a_phones_width_and_names_what_sticks_out(
    tmp_path: Path,
) -> None:
    import shutil
    from dataclasses import replace

    from digest import store
    from digest.config import load_config
    from digest.content.weeks import week_window
    from digest.lint.edition import lint_edition
    from digest.resources import packaged_templates

    from ..conftest import NOW

    cfg = tmp_path / "c" / "digest.toml"
    assert ClockedRunner().invoke(cli, ["--config", str(cfg), "init", "--demo"]).exit_code == 0
    config = load_config(cfg, {})
    db = store.open_store(config.store_path)
    week = week_window("2026-W47", config.tz)
    report = lint_edition(config, db, week, NOW)
    assert report is not None and report.findings == []  # drawn, and it fits
    # A template that lets a wide table through: the drawing finds it, whatever its cause.
    folder = tmp_path / "tpl"
    shutil.copytree(packaged_templates(), folder)
    base = folder / "base.html.j2"
    base.write_text(
        base.read_text().replace(
            "{% block content %}{% endblock %}",
            '{% block content %}{% endblock %}<tr><td><table width="700"><tr>'
            "<td>a fixed 700 px table</td></tr></table></td></tr>",
        )
    )
    wide = replace(config, templates=replace(config.templates, path=str(folder)))
    report = lint_edition(wide, db, week, NOW)
    assert report is not None
    drawn = [f for f in report.errors if f.check == "overflow"]
    assert drawn and "at a 375 px phone" in drawn[0].message
    assert "a fixed 700 px table" in drawn[0].message


def test_lint_says_send_would_refuse_the_values_init_left(tmp_path: Path) -> None:
    """A new publication's lint names the CHANGE-ME values before `send` refuses them."""
    from digest import store
    from digest.config import load_config
    from digest.content.weeks import week_window
    from digest.lint.edition import lint_edition

    from ..conftest import NOW
    from ..fixtures import load_week

    cfg = tmp_path / "c" / "digest.toml"
    assert ClockedRunner().invoke(cli, ["--config", str(cfg), "init"]).exit_code == 0
    config = load_config(cfg, {})
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    report = lint_edition(config, db, week_window("2026-W47", config.tz), NOW, draw=False)
    assert report is not None
    refused = [f for f in report.errors if f.check == "config"]
    assert len(refused) == 1
    assert "name, from, base_url, postal_address" in refused[0].message
    assert "CHANGE-ME" in refused[0].message


def test_pictures_of_unknown_size_are_said_once_for_the_message() -> None:
    pictures = "".join(
        f'<img src="https://news.example.com/{i}.jpg" alt="" width="120">' for i in range(3)
    )
    html = GOOD_HTML.replace("<h1>News</h1>", f"<h1>News</h1>{pictures}")
    found = [f for f in lint_message(_message(html), 100) if f.check == "images"]
    assert [f.level for f in found] == ["warning"]
    assert "3 pictures (https://news.example.com/0.jpg, ...)" in found[0].message
