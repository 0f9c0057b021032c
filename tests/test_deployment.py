"""The deployment files: the systemd units verify with systemd-analyze and run hardened."""

import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import REPO

MAILCHIMP_COLUMNS = [
    "Email Address", "First Name", "Last Name", "MEMBER_RATING", "OPTIN_TIME", "OPTIN_IP",
    "CONFIRM_TIME", "CONFIRM_IP", "LATITUDE", "LONGITUDE", "GMTOFF", "DSTOFF", "TIMEZONE",
    "CC", "REGION", "LAST_CHANGED", "LEID", "EUID", "NOTES", "TAGS",
]  # fmt: skip


# ---------------------------------------------------------------- deployment


SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="needs systemd-analyze (Debian's systemd)")
def test_the_systemd_units_verify(tmp_path: Path) -> None:
    venv_digest = Path(REPO / ".venv" / "bin" / "digest")
    found = str(venv_digest) if venv_digest.exists() else shutil.which("digest")
    if found is None:
        pytest.skip("needs a `digest` executable: pip install -e . (in .venv or on PATH)")
    executable = Path(found)
    units = sorted((REPO / "deploy" / "systemd").glob("digest-*"))
    assert {u.name for u in units} >= {
        "digest-serve.service",
        "digest-schedule.service",
        "digest-backup.service",
        "digest-backup.timer",
    }
    for unit in units:  # the units name /opt/digest: verify them against this checkout
        text = unit.read_text().replace("/opt/digest/.venv/bin/digest", str(executable))
        (tmp_path / unit.name).write_text(text)
        if unit.suffix == ".service":
            assert "NoNewPrivileges=yes" in text and "ProtectSystem=strict" in text
    checked = subprocess.run(
        [SYSTEMD_ANALYZE or "", "verify", *(str(tmp_path / u.name) for u in units)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0 and checked.stderr.strip() == "", checked.stderr
