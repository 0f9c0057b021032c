"""The tests' week: twelve articles across the topics and six readers, seeded straight
into the store. The text is the demo week's (`config/demo.json`): the golden emails and
many assertions name its stories and readers, so it is read from there, not copied, and
dated by the same code `init --demo` uses.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from digest import store
from digest.config import Config
from digest.readers.subscribers import save_subscriber
from digest.starter import demo_articles

from .conftest import REPO

WEEK_FILE = REPO / "config" / "demo.json"


def load_week(config: Config, db: Any, now: datetime) -> None:
    """Seed the week's articles, dated inside the last complete week before ``now``, and
    its six readers."""
    data = json.loads(WEEK_FILE.read_text(encoding="utf-8"))
    for article in demo_articles(config, now, data):
        store.upsert_article(db, article, now)
    for reader in data["subscribers"]:
        save_subscriber(db, reader["email"], reader["name"], reader["topics"], now)


def rsa_key(tmp_path: Path) -> tuple[str, bytes]:
    """A fresh 2048-bit RSA key: (private PEM, the DNS TXT record that publishes it),
    made with `cryptography` (no openssl executable needed); kept in ``tmp_path``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    (tmp_path / "dkim.pem").write_text(private)
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
