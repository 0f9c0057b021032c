"""Moving a list in from another tool without mailing anyone who left, and the
suppression list.

The export files are written here the way each tool writes them (its columns, its
quoting, its encoding), from each tool's documentation of its export."""

import csv
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

from digest import store
from digest.config import Config
from digest.content.weeks import week_window
from digest.delivery.sending import send_edition
from digest.errors import IngestError, SubscriberError
from digest.readers.signup import SignupRequest, confirm, confirm_url, sign_up
from digest.readers.subscribers import (
    add_subscriber,
    import_subscribers,
    remove_subscriber,
    suppression_key,
)

from ..conftest import NOW, make_config
from ..fixtures import load_week

MAILCHIMP_COLUMNS = [
    "Email Address", "First Name", "Last Name", "MEMBER_RATING", "OPTIN_TIME", "OPTIN_IP",
    "CONFIRM_TIME", "CONFIRM_IP", "LATITUDE", "LONGITUDE", "GMTOFF", "DSTOFF", "TIMEZONE",
    "CC", "REGION", "LAST_CHANGED", "LEID", "EUID", "NOTES", "TAGS",
]  # fmt: skip


def _mailchimp_csv(rows: list[dict[str, str]], extra: list[str]) -> bytes:
    """A member file as Mailchimp writes it: every field quoted, CRLF, UTF-8 with BOM."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    columns = MAILCHIMP_COLUMNS + extra
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return "\ufeff".join(["", out.getvalue()]).encode("utf-8")


def _mailchimp_zip(folder: Path) -> Path:
    """The audience export: a zip of the subscribed, unsubscribed, cleaned and
    non-subscribed member files."""
    subscribed = [
        {
            "Email Address": "ann.lee@example.org",
            "First Name": "Ann",
            "Last Name": "Lee",
            "OPTIN_TIME": "2023-05-01 12:30:00",
            "CONFIRM_TIME": "2023-05-01 12:34:56",
            "CONFIRM_IP": "203.0.113.4",
            "TAGS": '"Weekly","DNS readers"',
        },
        {"Email Address": "Zoë@Example.org", "First Name": "Zoë", "Last Name": "Smith"},
        {"Email Address": "both@example.org", "First Name": "Twice"},
        {"Email Address": "not-an-address", "First Name": "Bad"},
    ]
    unsub = ["UNSUB_TIME", "UNSUB_CAMPAIGN_TITLE", "UNSUB_CAMPAIGN_ID", "UNSUB_REASON",
             "UNSUB_REASON_OTHER"]  # fmt: skip
    unsubscribed = [
        {"Email Address": "left@example.org", "UNSUB_TIME": "2024-01-02 10:00:00",
         "UNSUB_REASON": "NORMAL"},
        {"Email Address": "angry@example.org", "UNSUB_TIME": "2024-02-03 11:00:00",
         "UNSUB_REASON": "ABUSE"},
        {"Email Address": "both@example.org", "UNSUB_TIME": "2024-03-04 12:00:00"},
    ]  # fmt: skip
    cleaned = [{"Email Address": "gone@example.org", "CLEAN_TIME": "2024-04-05 13:00:00"}]
    clean = ["CLEAN_TIME", "CLEAN_CAMPAIGN_TITLE", "CLEAN_CAMPAIGN_ID"]
    path = folder / "members_export_5f2c.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("subscribed_members_export_5f2c.csv", _mailchimp_csv(subscribed, []))
        archive.writestr(
            "unsubscribed_members_export_5f2c.csv", _mailchimp_csv(unsubscribed, unsub)
        )
        archive.writestr("cleaned_members_export_5f2c.csv", _mailchimp_csv(cleaned, clean))
        archive.writestr(
            "nonsubscribed_members_export_5f2c.csv",
            _mailchimp_csv([{"Email Address": "shopper@example.org"}], []),
        )
    return path


def _status(db: Any, email: str) -> str | None:
    found = store.get_subscriber(db, email)
    return str(found.status) if found else None


def test_a_mailchimp_audience_comes_in_and_nobody_who_left_is_mailed(
    config: Config, db: Any, tmp_path: Path
) -> None:
    path = _mailchimp_zip(tmp_path)
    dry = import_subscribers(db, path, NOW, config, tool="mailchimp", dry_run=True)
    assert list(store.iter_subscribers(db)) == []  # a dry run changes nothing
    report = import_subscribers(db, path, NOW, config, tool="mailchimp")
    assert (
        dry.states
        == report.states
        == {
            "active": 2,
            "unsubscribed": 2,  # one left; one in both files: the file that mails nobody wins
            "complained": 1,
            "bounced": 1,
            "unconfirmed": 1,
        }
    )
    assert (report.added, report.unconfirmed, report.merged, report.skipped) == (6, 1, 1, 1)
    assert report.errors[0]["file"] == "subscribed_members_export_5f2c.csv"
    assert report.errors[0]["line"] == 5
    assert [_status(db, a) for a in ("ann.lee@example.org", "zoë@example.org")] == ["active"] * 2
    assert _status(db, "left@example.org") == "unsubscribed"
    assert _status(db, "both@example.org") == "unsubscribed"
    assert _status(db, "gone@example.org") == "bounced"
    assert _status(db, "shopper@example.org") is None
    angry = store.get_subscriber(db, "angry@example.org")
    assert angry is not None and store.left_by_complaint(db, angry.id)
    ann = next(db.query("SELECT * FROM subscribers WHERE email = 'ann.lee@example.org'"))
    assert ann["name"] == "Ann Lee" and ann["created_at"].startswith("2023-05-01T12:34:56")
    event = next(
        db.query("SELECT detail, source FROM subscriber_events WHERE event = 'subscribed'")
    )
    assert event["source"] == "import-mailchimp" and "203.0.113.4" in event["detail"]
    # The edition goes to the two who are subscribed, and nobody else.
    load_week(config, db, NOW)
    report = send_edition(config, db, week_window("2026-W47", config.tz), lambda: NOW)
    sent = {p.name for p in (config.outbox_path / "2026-W47").glob("*.eml")}
    assert "left@example.org.eml" not in sent and "gone@example.org.eml" not in sent
    assert "angry@example.org.eml" not in sent and "ann.lee@example.org.eml" in sent


@pytest.mark.parametrize(
    ("tool", "content", "states"),
    [
        (
            "substack",
            "email,active_subscription,expiry,plan,email_disabled,created_at,first_payment_at\n"
            "free@example.org,true,,free,false,2021-03-01T10:00:00.000Z,\n"
            "paid@example.org,true,2025-06-01T00:00:00.000Z,yearly,false,"
            "2022-01-01T10:00:00.000Z,2022-01-01T10:05:00.000Z\n"
            "quiet@example.org,true,,free,true,2021-04-01T10:00:00.000Z,\n",
            {"active": 2, "unsubscribed": 1},
        ),
        (
            "ghost",
            "id,email,name,note,subscribed_to_emails,complimentary_plan,stripe_customer_id,"
            "created_at,deleted_at,labels,tiers\n"
            '6401,reader@example.org,"Lee, Ann",,true,false,,2023-01-02T03:04:05.000Z,,'
            '"Import, VIP",Free\n'
            "6402,off@example.org,Off,,false,false,,2023-01-02T03:04:05.000Z,,,\n",
            {"active": 1, "unsubscribed": 1},
        ),
        (
            "buttondown",
            "email,notes,metadata,tags,referrer_url,creation_date,secondary_id,subscriber_type,source\n"
            'one@example.org,,"{""name"": ""One""}",[],https://x.example/,2022-02-02T02:02:02Z,1,regular,api\n'
            "two@example.org,,{},[],,2022-02-02T02:02:02Z,2,unsubscribed,api\n"
            "three@example.org,,{},[],,2022-02-02T02:02:02Z,3,unactivated,form\n",
            {"active": 1, "unsubscribed": 1, "unconfirmed": 1},
        ),
    ],
)
def test_each_tools_export(
    config: Config, db: Any, tmp_path: Path, tool: str, content: str, states: dict[str, int]
) -> None:
    path = tmp_path / f"{tool}.csv"
    path.write_text(content, encoding="utf-8")
    report = import_subscribers(db, path, NOW, config, tool=tool)
    assert report.states == states and report.skipped == 0, report.errors
    active = {s.email for s in store.iter_subscribers(db, "active")}
    assert len(active) == states["active"]


def test_an_export_in_latin_1_and_a_file_of_another_tool(
    config: Config, db: Any, tmp_path: Path
) -> None:
    latin = tmp_path / "old.csv"
    latin.write_bytes("email,name,status\nzoe@example.org,Zoë,active\n".encode("latin-1"))
    import_subscribers(db, latin, NOW, config)
    assert store.get_subscriber(db, "zoe@example.org").name == "Zoë"  # type: ignore[union-attr]
    ghost = tmp_path / "ghost.csv"
    ghost.write_text("id,email,name\n1,a@example.org,A\n")
    with pytest.raises(IngestError, match=r"no 'email address' or 'email' column|subscriber_type"):
        import_subscribers(db, ghost, NOW, config, tool="buttondown")


def test_a_late_byte_that_is_not_utf_8_decides_the_whole_files_encoding(
    config: Config, db: Any, tmp_path: Path
) -> None:
    # The file is read a chunk at a time: a Latin-1 byte far past the first chunk must
    # still make the whole file Latin-1, as when it was decoded at once.
    rows = "".join(f"reader{i}@example.org,Reader {i}\n" for i in range(3000))
    path = tmp_path / "old.csv"
    path.write_bytes(("email,name\n" + rows + "zoe@example.org,Zoë\n").encode("latin-1"))
    assert path.stat().st_size > 64 * 1024
    report = import_subscribers(db, path, NOW, config)
    assert report.added == 3001 and report.skipped == 0
    assert store.get_subscriber(db, "zoe@example.org").name == "Zoë"  # type: ignore[union-attr]
    assert store.get_subscriber(db, "reader0@example.org").name == "Reader 0"  # type: ignore[union-attr]


def test_duplicates_across_a_zips_files_merge_and_the_stage_is_dropped(
    config: Config, db: Any, tmp_path: Path
) -> None:
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", "email,name,topics\nAna@Example.org,Ana,dns\nb@example.org,,\n")
        archive.writestr("b.csv", "email,name,topics,status\nana@example.org,,tls,unsubscribed\n")
    dry = import_subscribers(db, path, NOW, config, dry_run=True)
    assert dry.merged == 1 and dry.states == {"unsubscribed": 1, "active": 1}
    assert store.get_subscriber(db, "ana@example.org") is None  # a dry run changes nothing
    report = import_subscribers(db, path, NOW, config)
    assert report.merged == 1 and report.added == 2
    ana = store.get_subscriber(db, "ana@example.org")
    assert ana is not None and (ana.name, ana.status, ana.topics) == (
        "Ana",
        "unsubscribed",
        ("dns", "tls"),
    )
    left = db.execute("SELECT count(*) FROM sqlite_temp_master WHERE type = 'table'").fetchone()
    assert left[0] == 0


def _import_peak(config: Config, db: Any, path: Path, rows: int) -> int:
    import tracemalloc

    path.write_text(
        "email,name,topics\n"
        + "".join(f"reader{i}@example.org,Reader {i},dns\n" for i in range(rows))
    )
    tracemalloc.start()
    try:
        report = import_subscribers(db, path, NOW, config, dry_run=True)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        assert report.states == {"active": rows}


@pytest.mark.slow
def test_an_import_holds_no_more_in_memory_for_ten_times_the_rows(
    config: Config, db: Any, tmp_path: Path
) -> None:
    small = _import_peak(config, db, tmp_path / "small.csv", 300)
    large = _import_peak(config, db, tmp_path / "large.csv", 3_000)
    # Held whole, ten times the rows took about ten times the memory.
    assert large < 2 * small, (small, large)


def test_an_active_reader_the_old_tool_says_left_is_taken_off(
    config: Config, db: Any, tmp_path: Path
) -> None:
    load_week(config, db, NOW)
    path = tmp_path / "substack.csv"
    path.write_text(
        "email,active_subscription,expiry,plan,email_disabled,created_at,first_payment_at\n"
        "ben.hughes@example.org,true,,free,true,2021-03-01T10:00:00.000Z,\n"
    )
    report = import_subscribers(db, path, NOW, config, tool="substack")
    assert report.left == 1 and _status(db, "ben.hughes@example.org") == "unsubscribed"


def test_an_erased_reader_stays_out_until_their_own_confirmed_sign_up(
    config: Config, db: Any, tmp_path: Path
) -> None:
    old = tmp_path / "old.csv"
    old.write_text("email,name\nerin@example.org,Erin\nother@example.org,Other\n")
    import_subscribers(db, old, NOW, config)
    remove_subscriber(db, config, "Erin@Example.org", NOW, forget=True)
    assert _status(db, "erin@example.org") is None  # erased
    kept = [r["hash"] for r in db.query("SELECT hash FROM suppressions")]
    assert kept == [suppression_key(config, "erin@example.org")]  # a keyed hash, no address
    assert not any(
        "erin" in str(v) for r in db.query("SELECT * FROM suppressions") for v in r.values()
    )
    report = import_subscribers(db, old, NOW, config)  # the old file again
    assert report.suppressed == 1 and _status(db, "erin@example.org") is None
    assert "at their request" in report.errors[0]["reason"]
    with pytest.raises(SubscriberError, match="suppression list"):
        add_subscriber(db, config, "erin+news@example.org", "", "", NOW)  # the same mailbox
    sign_up(db, config, SignupRequest("erin@example.org", "Erin", client="203.0.113.9"), NOW)
    row = next(db.query("SELECT id, email, requested_at FROM signups ORDER BY id DESC"))
    link = confirm_url(config, row["id"], row["email"], store.from_db_time(row["requested_at"]))
    confirm(db, config, link.rsplit("/", 1)[1], NOW)
    assert _status(db, "erin@example.org") == "active"
    assert next(db.query("SELECT count(*) AS n FROM suppressions"))["n"] == 0
    nothing = make_config(tmp_path / "n", privacy={"forget": "nothing"})
    db2 = store.open_store(nothing.store_path)
    import_subscribers(db2, old, NOW, nothing)
    remove_subscriber(db2, nothing, "erin@example.org", NOW, forget=True)
    assert next(db2.query("SELECT count(*) AS n FROM suppressions"))["n"] == 0
