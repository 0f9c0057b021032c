"""Returned mail read against its labels: `process-mail --dry-run` and the proven outcome.

    python benchmarks/returns.py [--json]

On ../shared/testdata/bounces (real bounces, complaints, auto-replies and other mail,
labelled by the sisimai libraries' own test suites) it prints, per label and for each
message both as stored (LF) and with CRLF line ends (as IMAP serves it):

- dry run: what `process-mail --dry-run` says of each labelled recipient (a hard or soft
  bounce with that verdict, a complaint or mailto opt-out, an auto-reply, anything that
  is no bounce), right or wrong;
- proven: each message delivered to the VERP address of the edition it answers, then
  applied: a hard bounce must bounce the reader, a soft one only count, a complaint
  unsubscribe, and an auto-reply or delivery report change nobody;

and the time per message of the dry run (classification and planning, a Maildir read).
"""

from __future__ import annotations

import argparse
import json
import mailbox
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from digest import store  # noqa: E402
from digest.config import Config, build_config  # noqa: E402
from digest.models import RenderedVariant  # noqa: E402
from digest.readers.subscribers import save_subscriber  # noqa: E402
from digest.returns.process import process_return_path  # noqa: E402
from digest.tokens import Sent, sign_message_id, verp_address  # noqa: E402

BOUNCES = REPO.parent / "shared" / "testdata" / "bounces"
SECRET = "benchmark-secret-" + "x" * 32
RETURN_PATH = "bounces@news.example.com"
NOW_TEXT = "2026-11-25T12:00:00+00:00"


def _config(folder: Path) -> Config:
    raw: dict[str, Any] = {
        "newsletter": {
            "name": "The Weekly Wrap",
            "from": "The Weekly Wrap <wrap@news.example.com>",
            "base_url": "https://news.example.com/digest",
            "postal_address": "100 Example Street, Vancouver",
        },
        "store": {"path": "digest.db"},
        "outbox": {"path": "outbox"},
        "archive": {"path": "archive"},
        "smtp": {"return_path": RETURN_PATH},
    }
    return build_config(folder / "digest.toml", raw, {"DIGEST_SECRET": SECRET})


def crlf(raw: bytes) -> bytes:
    """The same message with CRLF line ends."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _deliver(maildir: Path, key: str, raw: bytes) -> str:
    """A message written into a Maildir's new/ byte for byte (the mailbox module would
    rewrite its line ends)."""
    mailbox.Maildir(str(maildir), create=True)
    (maildir / "new" / key).write_bytes(raw)
    return key


def right_in_dry_run(kind: str, entry: dict[str, Any], address: str) -> bool:
    """Whether the dry run's entry says what the label says of one recipient."""
    failure = next((f for f in entry["failures"] if f["address"] == address), None)
    if kind in ("hard", "soft"):
        return (
            entry["kind"] == "bounce"
            and failure is not None
            and failure["hard"] == (kind == "hard")
        )
    if kind == "complaint":
        return entry["kind"] in ("complaint", "unsubscribe")
    if kind == "autoreply":
        return entry["kind"] == "autoreply"
    return entry["kind"] not in ("bounce", "complaint", "unsubscribe")


_QUOTED_ID = re.compile(rb"(?im)^(Message-ID:[ \t]*)<[^>\r\n]+>")


def _proven(folder: Path, raw: bytes, label: dict[str, Any], how: str) -> tuple[str, bool] | None:
    """Apply one message proven the way ``how`` says: delivered to its VERP address, or
    quoting digest's signed Message-ID where the copy of the returned message has one
    (None when it quotes none); (the reader's status, right)."""
    from datetime import datetime

    now = datetime.fromisoformat(NOW_TEXT)
    config = _config(folder)
    db = store.open_store(config.store_path)
    address = (label["recipients"] or ["reader@example.org"])[0]
    save_subscriber(db, address, "", [], now)
    reader = store.get_subscriber(db, address)
    assert reader is not None
    variant = RenderedVariant("", "Subject", "<p>x</p>", "x", 1)
    edition = store.freeze_edition(db, "2026-W47", {}, [variant], now)
    row = db.conn.execute(
        "SELECT id FROM deliveries WHERE edition_id = ? AND subscriber_id = ?",
        (edition, reader.id),
    ).fetchone()
    store.record_delivery(db, row[0], "sent", "", now)
    eol = b"\r\n" if b"\r\n" in raw else b"\n"
    if how == "verp":
        verp = verp_address(SECRET, config.list_id, RETURN_PATH, reader.id, Sent(edition))
        stored = b"X-Original-To: " + verp.encode() + eol + raw
    else:
        head, sep, body = raw.partition(eol + eol)
        signed = sign_message_id(SECRET, config.list_id, "2026-W47", reader.id, "example.com")
        body, quoted = _QUOTED_ID.subn(rb"\g<1>" + signed.encode(), body)
        if not quoted:
            db.close()
            return None
        stored = head + sep + body
    _deliver(folder / "Maildir", "m0", stored)
    process_return_path(db, config, now, maildir=folder / "Maildir")
    found = store.get_subscriber(db, address)
    status = str(found.status) if found else "gone"
    events = {e for e, _ in store.subscriber_events(db, reader.id)}
    db.close()
    kind = label["kind"]
    report = any(d.get("feedback_type") == "auth-failure" for d in label["details"])
    right = {
        "hard": status == "bounced",
        "soft": status == "active" and "soft-bounce" in events,
        # a DMARC failure report is no reader's wish; an opt-out mail without the
        # reader's token gets them their one-click link
        "complaint": status == "unsubscribed"
        or (report and status == "active")
        or (status == "active" and "leave-check" in events),
        "autoreply": status == "active" and not {"bounced", "soft-bounce"} & events,
        "not_bounce": status == "active" and "bounced" not in events,
    }[kind]
    return status, right


def measure() -> dict[str, Any]:
    """Every labelled message, LF and CRLF: right and wrong per label, and the time."""
    from datetime import datetime

    now = datetime.fromisoformat(NOW_TEXT)
    names = sorted(p.stem for p in BOUNCES.glob("*.eml"))
    results: dict[str, Any] = {}
    for form in ("lf", "crlf"):
        dry: Counter[str] = Counter()
        proven: Counter[str] = Counter()
        quoted: Counter[str] = Counter()
        wrong: list[str] = []
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            config = _config(folder)
            db = store.open_store(config.store_path)
            keys = {}
            for name in names:
                raw = (BOUNCES / f"{name}.eml").read_bytes()
                keys[_deliver(folder / "Maildir", name, crlf(raw) if form == "crlf" else raw)] = (
                    name
                )
            started = time.perf_counter()
            report = process_return_path(db, config, now, maildir=folder / "Maildir", dry_run=True)
            elapsed = time.perf_counter() - started
            db.close()
            for entry in report.as_dict()["messages"]:
                name = keys[entry["message"]]
                label = json.loads((BOUNCES / f"{name}.json").read_text())
                for address in label["recipients"] or [""]:
                    ok = right_in_dry_run(label["kind"], entry, address)
                    dry[f"{label['kind']}:{'right' if ok else 'wrong'}"] += 1
                    if not ok:
                        wrong.append(f"dry {name} {address}: {entry['kind']} {entry['failures']}")
            for name in names:
                label = json.loads((BOUNCES / f"{name}.json").read_text())
                raw = (BOUNCES / f"{name}.eml").read_bytes()
                raw = crlf(raw) if form == "crlf" else raw
                for how, counts in (("verp", proven), ("message-id", quoted)):
                    outcome = _proven(folder / how / name, raw, label, how)
                    if outcome is None:
                        continue
                    status, ok = outcome
                    counts[f"{label['kind']}:{'right' if ok else 'wrong'}"] += 1
                    if not ok:
                        wrong.append(f"{how} {name}: {label['kind']} -> {status}")
        results[form] = {
            "dry_run": dict(sorted(dry.items())),
            "proven": dict(sorted(proven.items())),
            "proven_by_message_id": dict(sorted(quoted.items())),
            "ms_per_message": round(1000 * elapsed / len(names), 2),
            "wrong": wrong,
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    results = measure()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for form, figures in results.items():
        print(f"{form}: {figures['ms_per_message']} ms per message (dry run)")
        for what in ("dry_run", "proven", "proven_by_message_id"):
            counts: Counter[str] = Counter(figures[what])
            right = sum(v for k, v in counts.items() if k.endswith(":right"))
            total = sum(counts.values())
            print(f"  {what}: {right}/{total} right ({100 * right / total:.1f}%)")
            kinds = sorted({k.split(":")[0] for k in counts})
            for kind in kinds:
                right, wrong = counts[kind + ":right"], counts[kind + ":wrong"]
                print(f"    {kind:<10} right {right:>3}  wrong {wrong:>3}")
        for line in figures["wrong"]:
            print(f"  wrong: {line[:200]}")


if __name__ == "__main__":
    main()
