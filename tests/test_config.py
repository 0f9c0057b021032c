from pathlib import Path

import pytest

from digest.config import build_config, config_path, load_config
from digest.errors import ConfigError
from digest.resources import default_config_text

from .conftest import REPO, make_config


def test_shipped_config_loads_with_its_defaults(tmp_path: Path) -> None:
    path = tmp_path / "config" / "digest.toml"
    path.parent.mkdir()
    path.write_text(default_config_text())
    config = load_config(path, {})
    assert config.newsletter.name == "The Weekly Wrap"
    assert config.store_path == tmp_path / "var" / "digest.db"  # relative to the file
    assert config.outbox_path == tmp_path / "var" / "outbox"
    assert config.smtp.host == ""
    assert config.sponsors["dns"].name == "Example Registry Services"


def test_repo_config_is_the_packaged_default() -> None:
    assert (REPO / "config" / "digest.toml").read_text() == default_config_text()


def test_env_overrides_file_and_empty_env_counts_as_unset(tmp_path: Path) -> None:
    env = {
        "DIGEST_SMTP_HOST": "relay.example.com",
        "DIGEST_SMTP_PORT": "2525",
        "DIGEST_NEWSLETTER_BASE_URL": "",
        "DIGEST_SMTP_RATE": "12.5",
    }
    config = make_config(tmp_path, env=env)
    assert config.smtp.host == "relay.example.com"
    assert config.smtp.port == 2525
    assert config.smtp.rate == 12.5
    assert config.newsletter.base_url == "https://news.example.com/digest"


def test_secrets_come_from_env_only(tmp_path: Path) -> None:
    config = make_config(tmp_path, env={"DIGEST_SMTP_PASSWORD": "pw", "DIGEST_SECRET": "s" * 32})
    assert config.smtp.password == "pw"
    assert config.secret == "s" * 32
    with pytest.raises(ConfigError, match=r"\[smtp\] password is a secret .* DIGEST_SMTP_PASSWORD"):
        make_config(tmp_path, smtp={"password": "in-the-file"})


@pytest.mark.parametrize(
    ("sections", "env", "message"),
    [
        (
            {"smtp": {"port": "abc"}},
            {},
            r"\[smtp\] port = 'abc' in .*digest.toml or "
            r"DIGEST_SMTP_PORT: expected a whole number",
        ),
        ({}, {"DIGEST_SMTP_PORT": "99999"}, r"\[smtp\] port = 99999 .* a port from 1 to 65535"),
        ({"smtp": {"tls": "ssl"}}, {}, r"\[smtp\] tls = 'ssl' .* one of none, starttls, tls"),
        ({"newsletter": {"timezone": "Mars/Base"}}, {}, r"timezone = 'Mars/Base' .* IANA zone"),
        ({"newsletter": {"base_url": "news.example.com"}}, {}, r"base_url .* absolute http"),
        ({"newsletter": {"from": "nobody"}}, {}, r"\[newsletter\] from = 'nobody'"),
        (  # a bad From is the whole run's problem: refused before anything is sent
            {"newsletter": {"from": "Wrap <wrap@@news.example.com>"}},
            {},
            r"\[newsletter\] from = 'Wrap <wrap@@news.example.com>'",
        ),
        ({"smtp": {"return_path": "bounces@"}}, {}, r"\[smtp\] return_path = 'bounces@'"),
        ({"schedule": {"time": "7am"}}, {}, r"\[schedule\] time = '7am' .* like \"07:00\""),
        ({"smtp": {"hots": "x"}}, {}, r"unknown key \[smtp\] hots; known keys are host"),
        ({"digest": {"subject": "{nme}"}}, {}, r"\[digest\] subject = '\{nme\}'"),
    ],
)
def test_bad_values_name_the_key_the_file_and_the_form(
    tmp_path: Path, sections: dict, env: dict, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        make_config(tmp_path, env=env, **sections)


def test_missing_file_says_how_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"No configuration at .* Run `python -m digest init` to create one"
    ):
        load_config(tmp_path / "nope.toml", {})


def test_broken_toml_is_reported_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "digest.toml"
    path.write_text("[newsletter\nname = 1")
    with pytest.raises(ConfigError, match=r"digest.toml is not valid TOML"):
        load_config(path, {})


def test_config_path_order() -> None:
    assert config_path("a.toml", {"DIGEST_CONFIG": "b.toml"}) == Path("a.toml")
    assert config_path(None, {"DIGEST_CONFIG": "b.toml"}) == Path("b.toml")
    assert config_path(None, {"DIGEST_CONFIG": ""}) == Path("config/digest.toml")


def test_unknown_section_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown section \[mailer\]"):
        build_config(tmp_path / "x.toml", {"mailer": {}}, {})


def test_a_short_signing_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="DIGEST_SECRET is 12 characters long; use at least 32"):
        make_config(tmp_path, env={"DIGEST_SECRET": "short-secret"})
    assert make_config(tmp_path, env={"DIGEST_SECRET": "x" * 32}).secret == "x" * 32


def test_a_from_on_an_internal_domain_is_well_formed(tmp_path: Path) -> None:
    """Only the syntax of the From counts: an intranet's relay sends from .local."""
    config = make_config(tmp_path, newsletter={"from": "Staff news <news@intranet.local>"})
    assert config.sender_address == "news@intranet.local"
