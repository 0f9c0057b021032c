"""Other tools' exports read the way each tool decides who gets mail: a state an export
cannot say is never taken as subscribed (listmonk's per-list subscription, and the
same class of mistake in Mailchimp's, Substack's, Ghost's and Buttondown's readers)."""

import json
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest

from digest import store
from digest.cli import cli
from digest.config import Config
from digest.errors import IngestError
from digest.readers import exports
from digest.readers.subscribers import import_subscribers

from ..conftest import NOW, ClockedRunner


def _list(list_id: int, name: str, optin: str, status: str) -> dict[str, Any]:
    """One list of a subscriber as listmonk's API gives it (`lists.*` and the
    subscription's own columns)."""
    return {
        "subscription_status": status,
        "subscription_created_at": "2023-06-01T10:00:00.123456+02:00",
        "subscription_updated_at": "2023-06-02T10:00:00+02:00",
        "subscription_meta": {},
        "id": list_id,
        "uuid": f"ce13e971-{list_id:04d}",
        "name": name,
        "type": "public",
        "optin": optin,
        "tags": [],
        "created_at": "2020-02-10T23:07:16.194843+01:00",
        "updated_at": "2020-02-10T23:07:16.194843+01:00",
    }


def _subscriber(n: int, email: str, status: str, lists: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": n,
        "created_at": "2023-05-01T12:00:00+02:00",
        "updated_at": "2023-06-01T12:00:00+02:00",
        "uuid": f"ea06b2e7-{n:04d}",
        "email": email,
        "name": email.split("@")[0].title(),
        "attribs": {"city": "Bengaluru"},
        "status": status,
        "lists": lists,
    }


def _listmonk_json(path: Path, people: list[dict[str, Any]]) -> Path:
    """`GET /api/subscribers?list_id=1&per_page=all` as listmonk answers it."""
    answer = {"data": {"results": people, "query": "", "total": len(people), "per_page": 0}}
    path.write_text(json.dumps(answer, indent=2), encoding="utf-8")
    return path


def _weekly(status: str) -> list[dict[str, Any]]:
    return [_list(1, "Weekly", "double", status)]


WEEKLY_DOUBLE = [
    _subscriber(1, "confirmed@example.org", "enabled", _weekly("confirmed")),
    _subscriber(2, "left@example.org", "enabled", _weekly("unsubscribed")),
    _subscriber(3, "never@example.org", "enabled", _weekly("unconfirmed")),
    _subscriber(4, "blocked@example.org", "blocklisted", _weekly("confirmed")),
]


def test_listmonk_json_is_read_per_list_the_way_listmonk_sends(
    config: Config, db: Any, tmp_path: Path
) -> None:
    path = _listmonk_json(tmp_path / "listmonk.json", WEEKLY_DOUBLE)
    report = import_subscribers(db, path, NOW, config, tool="listmonk")
    assert report.states == {"active": 1, "unsubscribed": 2, "unconfirmed": 1}
    statuses = {s.email: s.status for s in store.iter_subscribers(db)}
    assert statuses == {
        "confirmed@example.org": "active",
        "left@example.org": "unsubscribed",
        "blocked@example.org": "unsubscribed",
    }  # the never-confirmed one is left out
    confirmed = store.get_subscriber(db, "confirmed@example.org")
    assert confirmed is not None
    row = next(db.query("SELECT created_at FROM subscribers WHERE id = ?", [confirmed.id]))
    assert row["created_at"].startswith("2023-06-01T08:00:00")  # joined the list then


def test_listmonk_single_opt_in_mails_the_unconfirmed_and_a_list_is_chosen(
    config: Config, db: Any, tmp_path: Path
) -> None:
    weekly = _list(1, "Weekly", "single", "unconfirmed")
    offers = _list(2, "Offers", "single", "unsubscribed")
    people = [
        _subscriber(1, "both@example.org", "enabled", [weekly, offers]),
        _subscriber(
            2, "offers@example.org", "enabled", [_list(2, "Offers", "single", "confirmed")]
        ),
    ]
    path = _listmonk_json(tmp_path / "listmonk.json", people)
    with pytest.raises(IngestError, match=r"'Weekly' \(id 1\), 'Offers' \(id 2\).*--list"):
        import_subscribers(db, path, NOW, config, tool="listmonk")
    report = import_subscribers(db, path, NOW, config, tool="listmonk", list_name="weekly")
    assert report.states == {"active": 1}
    assert report.skipped == 1 and "not on the listmonk list 'Weekly'" in report.errors[0]["reason"]
    by_id = import_subscribers(db, path, NOW, config, tool="listmonk", list_name="2", dry_run=True)
    assert by_id.states == {"unsubscribed": 1, "active": 1}
    with pytest.raises(IngestError, match="no listmonk list 'Daily'"):
        import_subscribers(db, path, NOW, config, tool="listmonk", list_name="Daily")


def test_a_list_whose_opt_in_the_export_does_not_say_mails_only_the_confirmed(
    config: Config, db: Any, tmp_path: Path
) -> None:
    entry = _list(1, "Weekly", "double", "unconfirmed")
    del entry["optin"]
    odd = _list(1, "Weekly", "double", "maybe")
    people = [
        _subscriber(1, "quiet@example.org", "enabled", [entry]),
        _subscriber(2, "odd@example.org", "enabled", [odd]),
        _subscriber(3, "who@example.org", "frozen", [_list(1, "Weekly", "single", "confirmed")]),
    ]
    report = import_subscribers(
        db, _listmonk_json(tmp_path / "l.json", people), NOW, config, tool="listmonk"
    )
    assert report.states == {"unconfirmed": 1} and report.skipped == 2
    assert list(store.iter_subscribers(db)) == []


def test_listmonks_csv_export_is_refused_naming_what_to_export_instead(
    config: Config, db: Any, tmp_path: Path
) -> None:
    path = tmp_path / "subscribers.csv"
    path.write_text(
        '"uuid","email","name","attributes","status","created_at","updated_at"\n'
        '"6b4f","left@example.org","Left","{}","enabled","2023-06-01 10:00:00.123456 +0000 UTC",'
        '"2023-06-01 10:00:00 +0000 UTC"\n'
    )
    with pytest.raises(IngestError, match=r"overall status.*api/subscribers\?list_id="):
        import_subscribers(db, path, NOW, config, tool="listmonk")
    assert list(store.iter_subscribers(db)) == []


def test_the_other_tools_never_take_a_state_their_file_cannot_say_as_subscribed(
    config: Config, db: Any, tmp_path: Path
) -> None:
    ghost = tmp_path / "ghost.csv"
    ghost.write_text("id,email,name,created_at\n1,a@example.org,A,2023-01-01T00:00:00Z\n")
    with pytest.raises(IngestError, match=r"subscribed_to_emails.*Members > Export"):
        import_subscribers(db, ghost, NOW, config, tool="ghost")
    substack = tmp_path / "substack.csv"
    substack.write_text("email,active_subscription,plan\nq@example.org,true,free\n")
    with pytest.raises(IngestError, match=r"email_disabled.*who turned email off"):
        import_subscribers(db, substack, NOW, config, tool="substack")
    mailchimp = tmp_path / "segment_export_9a1.csv"
    mailchimp.write_text("Email Address,First Name\nm@example.org,M\n")
    with pytest.raises(IngestError, match="does not say whether its members are subscribed"):
        import_subscribers(db, mailchimp, NOW, config, tool="mailchimp")
    named = tmp_path / "subscribed_members_export_9a1.csv"
    named.write_text("Email Address,First Name\nm@example.org,M\n")
    assert import_subscribers(db, named, NOW, config, tool="mailchimp").states == {"active": 1}
    buttondown = tmp_path / "buttondown.csv"
    buttondown.write_text(
        "email,subscriber_type,creation_date\n"
        "new-kind@example.org,suspended_by_admin,2022-01-01T00:00:00Z\n"
        "blank@example.org,,2022-01-01T00:00:00Z\n"
        "paid@example.org,premium,2022-01-01T00:00:00Z\n"
    )
    report = import_subscribers(db, buttondown, NOW, config, tool="buttondown")
    assert report.states == {"active": 1} and report.skipped == 2
    assert "subscriber type must be one of" in report.errors[0]["reason"]
    assert store.get_subscriber(db, "new-kind@example.org") is None


def test_listmonk_import_from_the_command_line_takes_the_list(tmp_path: Path) -> None:
    runner = ClockedRunner()
    cfg = tmp_path / "c" / "digest.toml"
    assert runner.invoke(cli, ["--config", str(cfg), "init"]).exit_code == 0
    path = _listmonk_json(tmp_path / "listmonk.json", WEEKLY_DOUBLE)
    done = runner.invoke(
        cli,
        ["--config", str(cfg), "subscribers", "import", str(path), "--from", "listmonk",
         "--list", "Weekly"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "1 active" in done.output and "1 unconfirmed" in done.output


# ---------------------------------------------------------------- a zip bomb


def _zip_of(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


HEADER = b'"Email Address","First Name"\r\n'


def test_a_zip_that_unpacks_far_past_its_size_is_refused_member_by_member(
    config: Config, db: Any, tmp_path: Path
) -> None:
    bomb = _zip_of(
        tmp_path / "members_export.zip",
        {"subscribed_members_export_1.csv": HEADER + b"0" * (50 * 2**20)},  # 50 MB of zeros
    )
    assert bomb.stat().st_size < 100_000
    with pytest.raises(IngestError, match=r"unpacks to .* refused \(a zip bomb"):
        import_subscribers(db, bomb, NOW, config, tool="mailchimp")
    assert list(store.iter_subscribers(db)) == []


def test_a_zip_that_lies_about_its_sizes_is_read_no_further_than_it_says(
    config: Config, db: Any, tmp_path: Path
) -> None:
    real = HEADER + b'"a@example.org","A"\r\n' + b"0" * 4_000_000
    path = _zip_of(tmp_path / "members_export.zip", {"subscribed_members_export_1.csv": real})
    data = bytearray(path.read_bytes())
    # Say the member unpacks to 60 bytes, in its local header and the central directory.
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, 60)
    struct.pack_into("<I", data, central + 24, 60)
    path.write_bytes(bytes(data))
    with pytest.raises(IngestError, match="broken zip"):
        import_subscribers(db, path, NOW, config, tool="mailchimp")


def test_the_members_of_a_zip_share_one_budget(
    config: Config, db: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exports, "MAX_UNPACKED", 100_000)
    rows = b"".join(b'"r%05d@example.org","R"\r\n' % i for i in range(2500))  # ~60 KB each
    path = _zip_of(
        tmp_path / "members_export.zip",
        {"subscribed_a.csv": HEADER + rows, "subscribed_b.csv": HEADER + rows},
    )
    with pytest.raises(IngestError, match=r"subscribed_b\.csv unpacks to"):
        import_subscribers(db, path, NOW, config, tool="mailchimp")
    one = _zip_of(tmp_path / "one.zip", {"subscribed_a.csv": HEADER + rows})
    assert import_subscribers(db, one, NOW, config, tool="mailchimp").states == {"active": 2500}
