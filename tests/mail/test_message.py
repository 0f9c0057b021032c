import email
import email.policy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from digest import store
from digest.config import Config
from digest.content.copies import render_copy
from digest.content.edition import build_edition
from digest.content.weeks import week_window
from digest.errors import HeaderError
from digest.mail.message import build_message, fold_header, prepare_variant
from digest.models import Article, Subscriber
from digest.tokens import sign_token, verify_token

from ..conftest import NOW, SECRET


@pytest.fixture
def prepared(config: Config, db: Any, make_article: Callable[..., Article]) -> Any:
    store.upsert_article(db, make_article(title="Café news"), NOW)
    edition = build_edition(config, db, week_window("2026-W47", config.tz))
    return prepare_variant(config, render_copy(config, edition, ""), "2026-W47", NOW)


def _parse(data: bytes) -> Any:
    return email.message_from_bytes(data, policy=email.policy.default)


def test_message_structure_and_headers(config: Config, prepared: Any) -> None:
    reader = Subscriber(7, "zoe@example.org", "Zoë Smith, PhD")
    data = build_message(config, prepared, reader)
    msg = _parse(data)
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in msg.iter_parts())
    assert str(msg["From"]) == "The Weekly Wrap <wrap@news.example.com>"
    assert msg["To"].addresses[0].display_name == "Zoë Smith, PhD"
    assert msg["To"].addresses[0].addr_spec == "zoe@example.org"
    assert msg["Date"] is not None
    # the week, the subscriber, a signature (so a return quoting it proves it), the list
    assert re.fullmatch(
        r"<2026-W47\.7\.[0-9a-f]{16}\.the-weekly-wrap\.news\.example\.com@news\.example\.com>",
        msg["Message-ID"],
    )
    assert msg["List-Id"] == "The Weekly Wrap <the-weekly-wrap.news.example.com>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = sign_token(SECRET, config.list_id, 7)
    assert msg["List-Unsubscribe"] == (
        f"<https://news.example.com/digest/unsubscribe/{token}>, "
        f"<mailto:unsubscribe@news.example.com?subject=unsubscribe%20{token}>"
    )
    text, html = (p.get_content() for p in msg.iter_parts())
    assert "Hi Zoë," in text and "Café news" in text
    assert f"/unsubscribe/{token}" in html and "zoe@example.org" in html
    assert "__DIGEST_" not in text + html


def test_list_unsubscribe_is_one_unfolded_line(config: Config, prepared: Any) -> None:
    data = build_message(config, prepared, Subscriber(123456, "a@example.org"))
    header_block = data.split(b"\r\n\r\n", 1)[0]
    line = next(x for x in header_block.split(b"\r\n") if x.startswith(b"List-Unsubscribe:"))
    assert b"=?" not in line and len(line) > 78
    assert all(not x.startswith((b" ", b"\t")) for x in header_block.split(b"\r\n"))


def test_message_id_is_the_same_on_every_build(config: Config, prepared: Any) -> None:
    reader = Subscriber(9, "a@example.org")
    assert build_message(config, prepared, reader) == build_message(config, prepared, reader)


def test_lines_are_crlf_and_short(config: Config, prepared: Any) -> None:
    data = build_message(config, prepared, Subscriber(1, "a@example.org", "A"))
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert max(len(x) for x in data.split(b"\r\n")) <= 998


@pytest.mark.parametrize("value", ["Evil\r\nBcc: x@example.org", "a\nb", "a\rb"])
def test_header_injection_is_refused(value: str) -> None:
    with pytest.raises(HeaderError, match="contains a line break"):
        fold_header("Subject", value)


def test_injected_subscriber_name_is_refused(config: Config, prepared: Any) -> None:
    with pytest.raises(HeaderError):
        build_message(config, prepared, Subscriber(1, "a@example.org", "A\r\nBcc: b@example.org"))


def test_tokens_are_bound_to_subscriber_list_and_secret() -> None:
    token = sign_token("k", "list.example.org", 42)
    assert verify_token("k", "list.example.org", token) == 42
    assert verify_token("other", "list.example.org", token) is None
    assert verify_token("k", "other.example.org", token) is None
    assert verify_token("k", "list.example.org", "43" + token[2:]) is None
    assert verify_token("k", "list.example.org", token[:-1]) is None
    assert verify_token("k", "list.example.org", "") is None
    assert "@" not in token


def test_imported_content_can_never_fill_a_readers_slot(
    tmp_path: Path, make_article: Callable[..., Article]
) -> None:
    """An RSS item whose link carries the slot names (the fixed ones of older versions,
    or a guess at the new form) goes out as written: the reader's address and token go
    only where the template put them."""
    from digest.content.notes import set_week_note
    from digest.content.weeks import week_window
    from digest.delivery.preview import preview_edition
    from digest.readers.subscribers import save_subscriber
    from digest.tokens import sign_token

    from ..conftest import SECRET, make_config

    config = make_config(tmp_path, digest={"greeting": "Hi {first_name},"})
    db = store.open_store(config.store_path)
    bait = "https://partner.example/p?r=__DIGEST_EMAIL__&k=__DIGEST_TOKEN__&g=DIGEST00EMAIL"
    store.upsert_article(
        db,
        make_article(url=bait, title="__DIGEST_GREETING__ wins", body="<p>__DIGEST_TOKEN__ x.</p>"),
        NOW,
    )
    set_week_note(db, "2026-W47", NOW, text=f"Read [this]({bait}) __DIGEST_EMAIL__")
    save_subscriber(db, "ann@example.org", "Ann", [], NOW)
    reader = store.get_subscriber(db, "ann@example.org")
    result = preview_edition(config, db, week_window("2026-W47", config.tz), reader, NOW)
    assert result is not None
    token = sign_token(SECRET, config.list_id, reader.id)  # type: ignore[union-attr]
    for body in (result.html, result.text):
        assert "__DIGEST_EMAIL__" in body and "__DIGEST_TOKEN__" in body  # as written
        assert "r=ann@example.org" not in body and f"k={token}" not in body
        assert body.count(token) == body.count("/unsubscribe/" + token) + body.count(
            "/preferences/" + token
        )
