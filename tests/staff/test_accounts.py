"""Staff accounts on a real store: roles made of permissions, Argon2id passwords, TOTP
for the roles that need it, one-time links spent once, logins limited per account and
per client network with one answer for all, sessions that end when idle or old."""

from datetime import timedelta
from typing import Any

import pyotp
import pytest

from digest.config import Config
from digest.errors import LoginRefused, StaffError
from digest.staff import accounts
from digest.staff.accounts import allows
from digest.staff.audit import Actor, entries
from digest.store import staff as rows

from ..conftest import NOW

OPERATOR = Actor("cli:ed", "operator")
PASSWORD = "correct horse battery staple"


def _secret(db: Any, email: str) -> str:
    account = rows.get_staff(db, email)
    assert account is not None
    return account.totp_secret


def test_roles_grow_viewer_to_admin() -> None:
    assert allows("viewer", "editions.view") and not allows("viewer", "note.write")
    assert allows("editor", "note.write") and not allows("editor", "edition.approve")
    assert allows("publisher", "edition.approve") and not allows("publisher", "readers.view")
    assert allows("admin", "staff.manage") and allows("admin", "readers.view")
    assert not allows("nobody", "editions.view")


def test_add_stores_an_argon2id_hash_and_enrols_totp_for_admins(config: Config, db: Any) -> None:
    added = accounts.add_staff(config, db, OPERATOR, "Boss@Example.org", "admin", PASSWORD, NOW)
    assert added.email == "boss@example.org" and added.totp_uri.startswith("otpauth://totp/")
    stored = rows.get_staff(db, "boss@example.org")
    assert stored is not None and stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash
    editor = accounts.add_staff(config, db, OPERATOR, "ed@example.org", "editor", PASSWORD, NOW)
    assert editor.totp_uri == ""
    with pytest.raises(StaffError, match="has an account already"):
        accounts.add_staff(config, db, OPERATOR, "ed@example.org", "viewer", PASSWORD, NOW)
    with pytest.raises(StaffError, match="at least 12"):
        accounts.add_staff(config, db, OPERATOR, "v@example.org", "viewer", "short", NOW)
    with pytest.raises(StaffError, match="not a role"):
        accounts.add_staff(config, db, OPERATOR, "v@example.org", "chief", PASSWORD, NOW)
    assert [r["action"] for r in entries(db)] == ["staff.add", "staff.add"]


def test_a_login_needs_the_password_and_for_an_admin_the_code(config: Config, db: Any) -> None:
    accounts.add_staff(config, db, OPERATOR, "boss@example.org", "admin", PASSWORD, NOW)
    code = pyotp.TOTP(_secret(db, "boss@example.org")).at(NOW)
    account = accounts.log_in(config, db, "boss@example.org", PASSWORD, code, "192.0.2.1", NOW)
    assert account.role == "admin"
    answers = set()
    for email, password, given in [
        ("boss@example.org", PASSWORD, ""),  # no code
        ("boss@example.org", PASSWORD, "000000" if code != "000000" else "111111"),
        ("boss@example.org", "wrong password here", code),
        ("nobody@example.org", PASSWORD, code),  # no such account
    ]:
        with pytest.raises(LoginRefused) as refused:
            accounts.log_in(config, db, email, password, given, "192.0.2.1", NOW)
        answers.add(str(refused.value))
    assert len(answers) == 1  # the same answer whatever was wrong
    with pytest.raises(LoginRefused):  # the code that logged in once does not again
        accounts.log_in(config, db, "boss@example.org", PASSWORD, code, "192.0.2.1", NOW)
    later = NOW + timedelta(minutes=16)  # past the window its five failures opened
    fresh = pyotp.TOTP(_secret(db, "boss@example.org")).at(later)
    assert accounts.log_in(config, db, "boss@example.org", PASSWORD, fresh, "192.0.2.1", later)
    logged = [(r["action"], r["outcome"]) for r in entries(db)]
    assert logged[1:] == [("login", "done")] + [("login", "refused")] * 5 + [("login", "done")]


@pytest.mark.slow
def test_failures_are_limited_per_account_and_per_network(config: Config, db: Any) -> None:
    accounts.add_staff(config, db, OPERATOR, "ed@example.org", "editor", PASSWORD, NOW)
    for _ in range(config.desk.login_failures):
        with pytest.raises(LoginRefused):
            accounts.log_in(config, db, "ed@example.org", "guess guess guess", "", "192.0.2.9", NOW)
    with pytest.raises(LoginRefused):  # the right password, from anywhere: still refused
        accounts.log_in(config, db, "ed@example.org", PASSWORD, "", "198.51.100.1", NOW)
    later = NOW + timedelta(minutes=16)
    assert accounts.log_in(config, db, "ed@example.org", PASSWORD, "", "198.51.100.1", later)
    # one /64 guessing at many accounts is one client
    for n in range(config.desk.login_failures):
        with pytest.raises(LoginRefused):
            accounts.log_in(config, db, f"x{n}@example.org", "guess", "", f"2001:db8::{n}", NOW)
    accounts.add_staff(config, db, OPERATOR, "v@example.org", "viewer", PASSWORD, NOW)
    with pytest.raises(LoginRefused):
        accounts.log_in(config, db, "v@example.org", PASSWORD, "", "2001:db8::ffff", NOW)
    assert accounts.log_in(config, db, "v@example.org", PASSWORD, "", "2001:db8:1::1", NOW)


def test_sessions_end_idle_or_old_and_everywhere(config: Config, db: Any) -> None:
    accounts.add_staff(config, db, OPERATOR, "ed@example.org", "editor", PASSWORD, NOW)
    token, csrf = accounts.open_session(db, "ed@example.org", NOW)
    found = accounts.session_for(config, db, token, NOW + timedelta(minutes=29))
    assert found is not None and found.role == "editor" and found.csrf == csrf
    assert accounts.session_for(config, db, token, NOW + timedelta(minutes=60)) is None
    assert accounts.session_for(config, db, token, NOW + timedelta(minutes=61)) is None  # gone
    token, _ = accounts.open_session(db, "ed@example.org", NOW)
    at = NOW
    for _ in range(12 * 3 + 1):  # used every 20 minutes: still ends 12 hours after its login
        at += timedelta(minutes=20)
        alive = accounts.session_for(config, db, token, at)
        assert (alive is not None) == (at - NOW <= timedelta(hours=12))
    one, _ = accounts.open_session(db, "ed@example.org", NOW)
    two, _ = accounts.open_session(db, "ed@example.org", NOW)
    session = accounts.session_for(config, db, one, NOW)
    assert session is not None
    assert accounts.log_out(db, session, NOW, everywhere=True) == 2
    assert accounts.session_for(config, db, two, NOW) is None
    assert accounts.session_for(config, db, "forged", NOW) is None


def test_a_reset_link_works_once_and_ends_the_old_password(config: Config, db: Any) -> None:
    accounts.add_staff(config, db, OPERATOR, "ed@example.org", "editor", PASSWORD, NOW)
    token, _ = accounts.open_session(db, "ed@example.org", NOW)
    link = accounts.reset_link(config, db, OPERATOR, "ed@example.org", NOW)
    secret = link.rsplit("/", 1)[1]
    assert accounts.session_for(config, db, token, NOW) is None
    with pytest.raises(LoginRefused):
        accounts.log_in(config, db, "ed@example.org", PASSWORD, "", "192.0.2.1", NOW)
    with pytest.raises(StaffError, match="at least 12"):  # the link stays unspent
        accounts.set_password(config, db, secret, "short", NOW)
    assert (
        accounts.set_password(config, db, secret, "a new long passphrase", NOW)[0]
        == "ed@example.org"
    )
    with pytest.raises(StaffError, match="used already"):
        accounts.set_password(config, db, secret, "another long passphrase", NOW)
    assert accounts.log_in(
        config, db, "ed@example.org", "a new long passphrase", "", "192.0.2.1", NOW
    )
    late = accounts.reset_link(config, db, OPERATOR, "ed@example.org", NOW)
    with pytest.raises(StaffError, match="expired"):
        accounts.set_password(
            config, db, late.rsplit("/", 1)[1], PASSWORD, NOW + timedelta(hours=25)
        )


def test_the_last_admin_stays(config: Config, db: Any) -> None:
    accounts.add_staff(config, db, OPERATOR, "boss@example.org", "admin", PASSWORD, NOW)
    with pytest.raises(StaffError, match="only admin"):
        accounts.set_role(config, db, OPERATOR, "boss@example.org", "viewer", NOW)
    with pytest.raises(StaffError, match="only admin"):
        accounts.remove_staff(db, OPERATOR, "boss@example.org", NOW)
    accounts.add_staff(config, db, OPERATOR, "two@example.org", "editor", PASSWORD, NOW)
    assert accounts.set_role(config, db, OPERATOR, "two@example.org", "admin", NOW).startswith(
        "otpauth"
    )
    accounts.remove_staff(db, OPERATOR, "boss@example.org", NOW)
    assert [r["email"] for r in accounts.staff_list(db)] == ["two@example.org"]
