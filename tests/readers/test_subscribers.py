"""The list: import, export, leaving by mail, and never mailing those who left."""

import io
import mailbox
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from digest import store
from digest.config import Config
from digest.content import copies
from digest.content import edition as edition_module
from digest.content.frozen import edition_payload
from digest.content.weeks import week_window
from digest.delivery.sending import send_edition
from digest.errors import ConfigError, DigestError
from digest.models import Subscriber
from digest.readers.subscribers import export_csv, import_subscribers, save_subscriber
from digest.returns.process import process_return_path
from digest.tokens import sign_token

from ..conftest import NOW, SECRET, make_config
from ..fixtures import load_week


def test_import_validates_normalises_and_merges(tmp_path: Path, config: Config, db: Any) -> None:
    save_subscriber(db, "left@example.org", "", [], NOW)
    store.set_subscriber_status(db, "left@example.org", "unsubscribed", NOW)
    csv_file = tmp_path / "s.csv"
    csv_file.write_text(
        "Email,Name,Topics\n"
        "Mixed.Case@EXAMPLE.ORG,Mixed,DNS\n"
        "mixed.case@example.org,,New TLDs\n"
        "no-at-sign,Bad,\n"
        "someone@localhost,Bad,\n"
        "left@example.org,Back,\n"
        "\"=cmd|' /C calc'!A0@example.org\",Evil,\n"
        'ok@example.com,"=HYPERLINK(""http://x"")",\n'
    )
    report = import_subscribers(db, csv_file, NOW, config)
    assert (report.added, report.merged, report.kept, report.skipped) == (2, 1, 1, 3)
    assert [(e["file"], e["line"]) for e in report.errors] == [("s.csv", n) for n in (4, 5, 7)]
    mixed = store.get_subscriber(db, "mixed.case@example.org")
    assert mixed is not None
    assert (mixed.email, mixed.name, mixed.topics) == (
        "Mixed.Case@example.org",
        "Mixed",
        ("dns", "new-tlds"),
    )
    assert store.get_subscriber(db, "left@example.org").status == "unsubscribed"  # type: ignore[union-attr]


def test_a_csv_in_latin_1_is_read_as_such(tmp_path: Path, config: Config, db: Any) -> None:
    csv_file = tmp_path / "s.csv"
    csv_file.write_bytes("email,name\nzoe@example.org,Zo\xeb\n".encode("latin-1"))
    import_subscribers(db, csv_file, NOW, config)
    assert store.get_subscriber(db, "zoe@example.org").name == "Zoë"  # type: ignore[union-attr]


def test_export_neutralises_formulas() -> None:
    out = io.StringIO()
    rows = [
        Subscriber(1, "a@example.org", "=cmd|' /C calc'!A0"),
        Subscriber(2, "b@example.org", "+1 555"),
        Subscriber(3, "c@example.org", "Cé"),
    ]
    assert export_csv(rows, out) == 3
    lines = out.getvalue().splitlines()
    assert lines[1] == "a@example.org,'=cmd|' /C calc'!A0,,active"
    assert lines[2] == "b@example.org,'+1 555,,active"
    assert lines[3] == "c@example.org,Cé,,active"


def _maildir(tmp_path: Path, subjects: list[str]) -> Path:
    box = mailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    for subject in subjects:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "x@example.org", "unsubscribe@example.com", subject
        box.add(msg)
    return tmp_path / "Maildir"


def test_mailto_requests_from_a_maildir(tmp_path: Path, config: Config, db: Any) -> None:
    load_week(config, db, NOW)
    token = sign_token(SECRET, config.list_id, 2)
    path = _maildir(
        tmp_path,
        [
            f"unsubscribe {token}",
            f"Re: UNSUBSCRIBE {token}",
            "unsubscribe 1.forged0000000000000000",
            "hello",
        ],
    )
    report = process_return_path(db, config, NOW, maildir=path)
    actions = [m.action for m in report.messages]
    assert report.count("unsubscribed") == 1
    assert actions.count("none: the token is not valid") == 1  # the forged one
    assert any("already unsubscribed" in a for a in actions)  # the second request
    assert report.kinds() == {"unsubscribe": 3, "other": 1}  # "hello" changes nothing
    assert store.get_subscriber_by_id(db, 2).status == "unsubscribed"  # type: ignore[union-attr]
    assert store.subscriber_events(db, 2) == [("unsubscribed", "mailto")]
    assert len(list((path / "new").iterdir())) == 1  # the person's "hello", left unread
    again = process_return_path(db, config, NOW, maildir=path)
    assert [m.disposition for m in again.messages] == ["leave"]  # nothing applied twice
    with pytest.raises(DigestError, match="is not a Maildir"):
        process_return_path(db, config, NOW, maildir=tmp_path)


def test_unsubscribed_and_bounced_are_left_out_of_next_edition_and_of_a_resume(
    config: Config, db: Any
) -> None:
    load_week(config, db, NOW)
    store.set_subscriber_status(db, "ana.sousa@example.org", "unsubscribed", NOW)
    store.set_subscriber_status(db, "ben.hughes@example.org", "bounced", NOW)
    week = week_window("2026-W47", config.tz)
    # Freeze without delivering, as a crash right after the freeze would leave it.
    built = edition_module.build_edition(config, db, week)
    variants = copies.render_variants(config, built, store.active_topic_choices(db))
    edition_id = store.freeze_edition(db, week.label, edition_payload(built), variants, NOW)
    assert sum(store.delivery_counts(db, edition_id).values()) == 4  # the two are not in it
    store.set_subscriber_status(db, "chen.wei@example.com", "unsubscribed", NOW)  # leaves mid-send
    report = send_edition(config, db, week, lambda: NOW)
    assert report is not None
    assert (report.count("sent"), report.count("skipped")) == (3, 1)
    sent = {p.name for p in (config.outbox_path / "2026-W47").glob("*.eml")}
    assert "chen.wei@example.com.eml" not in sent and "ana.sousa@example.org.eml" not in sent


def test_each_topic_variant_is_rendered_once(
    config: Config, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_week(config, db, NOW)
    for i in range(20):  # more subscribers on the existing choices: no more renders
        save_subscriber(db, f"more{i}@example.org", "", [["DNS", "Cybersecurity"], []][i % 2], NOW)
    calls: list[str] = []
    real = copies.render_variant

    def counting(config: Config, edition: Any, copy: Any) -> Any:
        calls.append(copy.key)
        return real(config, edition, copy)

    monkeypatch.setattr(copies, "render_variant", counting)
    report = send_edition(config, db, week_window("2026-W47", config.tz), lambda: NOW)
    assert report is not None and report.count("sent") == 26
    assert sorted(calls) == ["", "cybersecurity,dns", "domain-names,new-tlds", "ipv4-markets"]


def test_the_sender_prepares_each_variant_once_and_holds_one_at_a_time(
    config: Config, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc
    import weakref

    from digest.delivery import ledger

    load_week(config, db, NOW)
    for i in range(20):  # interleaved choices: the ledger's id order mixes the variants
        save_subscriber(db, f"more{i}@example.org", "", [["DNS", "Cybersecurity"], []][i % 2], NOW)
    held: list[weakref.ref[Any]] = []
    keys: list[str] = []
    real = ledger.prepare_variant

    def watching(config: Config, variant: Any, *args: Any) -> Any:
        gc.collect()
        assert [r for r in held if r() is not None] == []  # the one before is let go
        keys.append(variant.key)
        prepared = real(config, variant, *args)
        held.append(weakref.ref(prepared))
        return prepared

    monkeypatch.setattr(ledger, "prepare_variant", watching)
    report = send_edition(config, db, week_window("2026-W47", config.tz), lambda: NOW)
    assert report is not None and report.count("sent") == 26
    assert sorted(keys) == ["", "cybersecurity,dns", "domain-names,new-tlds", "ipv4-markets"]


def test_the_freeze_holds_one_rendered_variant_at_a_time(
    config: Config, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc
    import weakref

    load_week(config, db, NOW)
    held: list[weakref.ref[Any]] = []
    real = copies.render_within_budget

    def watching(config: Config, edition: Any, key: str) -> Any:
        gc.collect()
        assert [r for r in held if r() is not None] == []  # the one before is in the store
        rendered = real(config, edition, key)
        held.append(weakref.ref(rendered))
        return rendered

    monkeypatch.setattr(copies, "render_within_budget", watching)
    report = send_edition(config, db, week_window("2026-W47", config.tz), lambda: NOW)
    assert report is not None and report.count("sent") == 6 and len(held) == 4
    frozen = store.get_edition(db, "2026-W47")
    assert frozen is not None
    stored = store.edition_variants(db, frozen.id)
    assert sorted(stored) == ["", "cybersecurity,dns", "domain-names,new-tlds", "ipv4-markets"]
    assert all(v.html and v.text for v in stored.values())
    tables = db.execute("SELECT count(*) FROM sqlite_temp_master WHERE type = 'table'")
    assert tables.fetchone()[0] == 0  # the stage is gone


def test_topic_choice_with_nothing_this_week_gets_no_email(config: Config, db: Any) -> None:
    load_week(config, db, NOW)
    save_subscriber(db, "brand@example.org", "", ["Brand Protection"], NOW)
    report = send_edition(config, db, week_window("2026-W47", config.tz), lambda: NOW)
    assert report is not None and (report.count("sent"), report.count("skipped")) == (6, 1)
    assert not (config.outbox_path / "2026-W47" / "brand@example.org.eml").exists()


def test_send_refuses_without_a_postal_address(tmp_path: Path) -> None:
    config = make_config(tmp_path, newsletter={"postal_address": ""})
    db = store.open_store(config.store_path)
    load_week(config, db, NOW)
    with pytest.raises(ConfigError, match=r"\[newsletter\] postal_address is empty"):
        send_edition(config, db, week_window("2026-W47", config.tz), lambda: NOW)


def test_saving_an_address_in_another_case_updates_the_one_subscriber(db: Any) -> None:
    assert save_subscriber(db, "Ann@Example.org", "Ann", [], NOW) == "added"
    assert save_subscriber(db, "ann@example.org", "Ann", [], NOW) == "unchanged"
    assert save_subscriber(db, "ANN@example.org", "Ann B", ["DNS"], NOW) == "updated"
    found = store.get_subscriber(db, "ann@EXAMPLE.ORG")
    assert found is not None and (found.name, found.topics) == ("Ann B", ("dns",))


def test_unsubscribed_are_not_reactivated_by_add(config: Config, db: Any) -> None:
    from digest.errors import SubscriberKeptError
    from digest.readers.subscribers import add_subscriber, reactivate_subscriber

    save_subscriber(db, "gone@example.org", "", [], NOW)
    store.set_subscriber_status(db, "gone@example.org", "unsubscribed", NOW)
    assert save_subscriber(db, "gone@example.org", "", [], NOW) == "kept"
    with pytest.raises(SubscriberKeptError, match="subscribers reactivate EMAIL"):
        add_subscriber(db, config, "gone@example.org", "", "", NOW)
    assert store.get_subscriber(db, "gone@example.org").status == "unsubscribed"  # type: ignore[union-attr]
    reactivate_subscriber(db, "gone@example.org", NOW)
    assert store.get_subscriber(db, "gone@example.org").status == "active"  # type: ignore[union-attr]


def test_the_subscriber_use_cases_validate_and_name_what_is_wrong(config: Config, db: Any) -> None:
    from digest.errors import RowError, SubscriberError
    from digest.readers.subscribers import add_subscriber, remove_subscriber

    assert add_subscriber(db, config, " Ann@EXAMPLE.org ", "Ann\x07", "DNS, New TLDs", NOW) == (
        "Ann@example.org",
        "added",
    )
    with pytest.raises(RowError, match="'nope' is not a valid address"):
        add_subscriber(db, config, "nope", "", "", NOW)
    remove_subscriber(db, config, "ann@example.org", NOW)
    assert store.get_subscriber(db, "ann@example.org").status == "unsubscribed"  # type: ignore[union-attr]
    remove_subscriber(db, config, "ann@example.org", NOW, forget=True)
    assert store.get_subscriber(db, "ann@example.org") is None
    with pytest.raises(SubscriberError, match="is not on the list"):
        remove_subscriber(db, config, "ann@example.org", NOW)


def test_the_list_shows_what_came_back_for_each_reader_in_one_pass(db: Any) -> None:
    from digest.readers.subscribers import subscriber_rows

    a = store.insert_subscriber(db, "a@example.org", "A", [], NOW)
    store.insert_subscriber(db, "b@example.org", "B", [], NOW)
    for event in ("soft-bounce", "soft-bounce", "complaint", "unsubscribed"):
        store.add_event(db, a, event, "smtp", NOW)
    store.set_subscriber_status(db, "b@example.org", "bounced", NOW)  # logs the bounce
    rows = {r["email"]: r["returned"] for r in subscriber_rows(db)}
    assert rows == {
        "a@example.org": {"hard_bounces": 0, "soft_bounces": 2, "complaints": 1},
        "b@example.org": {"hard_bounces": 1, "soft_bounces": 0, "complaints": 0},
    }
    assert [r["email"] for r in subscriber_rows(db, "bounced")] == ["b@example.org"]


def test_a_streamed_json_list_is_what_emit_prints() -> None:
    import json

    import click
    from click.testing import CliRunner

    from digest.cli.app import emit, emit_list

    for items in ([], [{"a": 1, "b": [1, {"é": None}]}], [{"a": 1}, "two", 3]):

        @click.command()
        def streamed(items: list[Any] = items) -> None:
            emit_list("subscribers", iter(items))

        @click.command()
        def whole(items: list[Any] = items) -> None:
            emit({"subscribers": items})

        out = CliRunner().invoke(streamed).output
        assert out == CliRunner().invoke(whole).output
        assert json.loads(out) == {"subscribers": items}
