"""The installed package finds its templates and default config without the source tree."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO


@pytest.mark.slow
def test_wheel_carries_templates_and_renders_outside_the_checkout(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = wheels.glob("digest-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for template in ("base.html.j2", "digest.html.j2", "digest.txt.j2", "digest.css"):
        assert f"digest/_data/templates/email/{template}" in names
    assert "digest/_data/digest.toml" in names
    assert "digest/_data/demo.json" in names  # init --demo's week
    assert "digest/lint/client_support.json" in names  # lint's client table

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}

    def digest(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "digest", *args],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    init = digest("init", "--demo")
    assert init.returncode == 0, init.stderr
    assert (work / "config" / "digest.toml").is_file()
    preview = digest("preview", "--text")
    assert preview.returncode == 0, preview.stderr
    assert "THE WEEKLY WRAP" in preview.stdout
    located = digest_module_path(site, work, env)
    assert located.startswith(str(site))  # the wheel's copy ran, not the checkout


def digest_module_path(site: Path, work: Path, env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-c", "import digest.content.render as r; print(r.packaged_templates())"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()
