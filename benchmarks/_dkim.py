"""DKIM signing's cost per message, shared by the benchmarks."""

from __future__ import annotations

import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any


def dkim_ms_per_message(config: Any, messages: list[bytes]) -> float:
    """Milliseconds dkimpy takes to sign one of ``messages`` with a fresh RSA-2048 key."""
    from digest.mail.dkimsign import sign_message

    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "k.pem"
        subprocess.run(
            ["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True
        )
        dkim = replace(
            config.dkim, domain="news.example.com", selector="s1", private_key=key.read_text()
        )
    signing = replace(config, dkim=dkim)
    start = time.perf_counter()
    for message in messages:
        sign_message(signing, message)
    return (time.perf_counter() - start) / len(messages) * 1000
