import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from digest import store
from digest.config import Config
from digest.content.ingest import canonical_url, import_articles
from digest.errors import IngestError, RowError

from ..conftest import NOW

TZ = ZoneInfo("America/Vancouver")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "HTTPS://News.Example.COM/a?utm_source=x&id=3&UTM_Medium=y#p2",
            "https://news.example.com/a?id=3#p2",
        ),
        ("http://example.com", "http://example.com/"),
        ("https://example.com:443/a?fbclid=1&gclid=2", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com/day#post-2", "https://example.com/day#post-2"),
    ],
)
def test_canonical_url(raw: str, expected: str) -> None:
    assert canonical_url(raw) == expected


@pytest.mark.parametrize("raw", ["/relative", "ftp://example.com/a", "javascript:alert(1)", ""])
def test_canonical_url_refuses_non_http(raw: str) -> None:
    with pytest.raises(RowError, match="absolute http"):
        canonical_url(raw)


def _write_jsonl(path: Path, lines: list[Any]) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


def test_jsonl_import_reports_bad_rows_by_line_and_keeps_the_rest(tmp_path: Path, db: Any) -> None:
    path = _write_jsonl(
        tmp_path / "a.jsonl",
        [
            {
                "url": "https://news.example.com/1",
                "title": "One",
                "topics": ["DNS", "dns", "Cyber"],
                "published_at": "2026-11-18T09:00:00",
                "featured": "yes",
                "score": "4.5",
            },
            {"title": "No URL"},
            "{not json",
            {"url": "https://news.example.com/2", "title": "Two", "published_at": "Nov 18"},
            [1, 2],
            {
                "url": "https://news.example.com/3?utm_campaign=x",
                "title": "Three",
                "topics": "DNS, New TLDs",
                "score": "high",
            },
            {"url": "https://news.example.com/4", "title": "Four", "topics": "DNS, New TLDs"},
        ],
    )
    report = import_articles(db, path, "auto", TZ, NOW)
    assert (report.added, report.skipped) == (2, 5)
    reasons = {e["line"]: e["reason"] for e in report.errors}
    assert reasons[2] == "url is required"
    assert reasons[3].startswith("not valid JSON")
    assert reasons[4].startswith("published_at must be ISO 8601")
    assert reasons[5] == "each line must be a JSON object"
    assert reasons[6] == "score must be a number"
    one = next(a for a in store.all_articles(db) if a.title == "One")
    assert one.topics == ("DNS", "Cyber")
    assert one.featured and one.score == 4.5
    assert one.published_at.isoformat() == "2026-11-18T17:00:00+00:00"  # naive = newsletter tz
    again = import_articles(db, path, "jsonl", TZ, NOW)
    assert (again.added, again.unchanged) == (0, 2)


def test_csv_import_with_same_columns(tmp_path: Path, db: Any) -> None:
    path = tmp_path / "a.csv"
    path.write_text(
        "url,title,published_at,topics,featured,excerpt\n"
        'https://news.example.com/c1,"Title, with comma",2026-11-18T09:00:00Z,'
        '"DNS,IPv4 Markets",0,Editor words\n'
        ",Missing url,,,,\n"
        "https://news.example.com/c2,Two,2026-11-19T09:00:00+01:00,,true,\n"
    )
    report = import_articles(db, path, "auto", TZ, NOW)
    assert (report.added, report.skipped) == (2, 1)
    assert report.errors == [{"line": 3, "reason": "url is required", "value": ""}]
    first = next(a for a in store.all_articles(db) if a.url.endswith("c1"))
    assert (first.title, first.topics, first.excerpt) == (
        "Title, with comma",
        ("DNS", "IPv4 Markets"),
        "Editor words",
    )


def test_unreadable_sources_are_clear_errors(tmp_path: Path, db: Any) -> None:
    with pytest.raises(IngestError, match=r"No such file: .*missing.jsonl"):
        import_articles(db, tmp_path / "missing.jsonl", "auto", TZ, NOW)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("url,title\nhttps://e.example.com/1,Caf\xe9\n".encode("latin-1"))
    with pytest.raises(IngestError, match=r"not UTF-8 text .* save it as UTF-8"):
        import_articles(db, latin, "auto", TZ, NOW)
    with pytest.raises(IngestError, match=r"Cannot tell the format .* --format jsonl\|csv"):
        import_articles(db, tmp_path / "a.txt", "auto", TZ, NOW)


def test_undated_record_keeps_its_first_date_on_reimport(tmp_path: Path, db: Any) -> None:
    from datetime import timedelta

    path = _write_jsonl(tmp_path / "u.jsonl", [{"url": "https://e.example.com/u", "title": "U"}])
    assert import_articles(db, path, "auto", TZ, NOW).added == 1
    later = import_articles(db, path, "auto", TZ, NOW + timedelta(hours=1))
    assert later.unchanged == 1
    assert store.all_articles(db)[0].published_at == NOW


def test_a_csv_field_over_the_csv_modules_limit_is_imported_and_so_are_the_rows_after(
    tmp_path: Path, db: Any, config: Config
) -> None:
    long_body = "word " * 40_000  # 200,000 characters: over csv's default 131,072
    source = tmp_path / "big.csv"
    source.write_text(
        "url,title,published_at,body\n"
        f'https://news.example.com/long,Long,2026-11-18T10:00:00,"{long_body}"\n'
        "https://news.example.com/after,After,2026-11-18T11:00:00,short\n",
        encoding="utf-8",
    )
    report = import_articles(db, source, "auto", config.tz, NOW)
    assert (report.added, report.skipped) == (2, 0)
    assert {len(a.body) for a in store.all_articles(db)} == {len(long_body), len("short")}


@pytest.mark.parametrize("stamp", ["9999-12-31T23:00:00", "0001-01-01T00:00:00", "1899-12-31"])
def test_dates_out_of_range_are_row_errors_and_the_rest_import(
    tmp_path: Path, db: Any, config: Config, stamp: str
) -> None:
    source = tmp_path / "dates.jsonl"
    source.write_text(
        f'{{"url": "https://news.example.com/odd", "title": "Odd", "published_at": "{stamp}"}}\n'
        '{"url": "https://news.example.com/ok", "title": "Ok", "published_at": "2026-11-18"}\n'
    )
    report = import_articles(db, source, "auto", config.tz, NOW)
    assert (report.added, report.skipped) == (1, 1)
    assert "outside 1900-2999" in report.errors[0]["reason"]
    assert [a.url for a in store.all_articles(db)] == ["https://news.example.com/ok"]
