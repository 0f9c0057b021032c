"""Passkeys (WebAuthn, through the `webauthn` library): a staff account registers one
from a logged-in session, then logs in with it alone (user verification required: the
passkey is both factors). Challenges are kept in the store, spent once, for 5 minutes."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, parse_client_data_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from digest.config import Config
from digest.errors import LoginRefused, StaffError
from digest.staff.accounts import REFUSED, client_network
from digest.staff.audit import Actor, record
from digest.store import staff as rows

CHALLENGE_MINUTES = 5


def _challenge(db: Database, email: str, now: datetime) -> bytes:
    challenge = secrets.token_bytes(32)
    rows.add_challenge(
        db, bytes_to_base64url(challenge), email, now + timedelta(minutes=CHALLENGE_MINUTES)
    )
    return challenge


def _challenge_of(credential: dict[str, Any]) -> str:
    """The challenge a credential's client data answers, as the store keeps it."""
    try:
        data = base64url_to_bytes(str(credential["response"]["clientDataJSON"]))
        return bytes_to_base64url(parse_client_data_json(data).challenge)
    except (KeyError, TypeError, ValueError, WebAuthnException) as e:
        raise StaffError(f"That is not a passkey's answer: {e}") from e


def _parsed(text: bytes) -> dict[str, Any]:
    try:
        found = json.loads(text)
    except ValueError as e:
        raise StaffError("That is not a passkey's answer (not JSON).") from e
    if not isinstance(found, dict):
        raise StaffError("That is not a passkey's answer.")
    return found


def registration_options(
    config: Config, db: Database, email: str, rp_id: str, now: datetime
) -> str:
    """The options (JSON) for `navigator.credentials.create`: a discoverable credential
    with user verification, none of the account's own again."""
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=f"{config.newsletter.name} desk",
        user_name=email,
        user_id=hashlib.sha256(email.encode("utf-8")).digest()[:16],
        challenge=_challenge(db, email, now),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(c))
            for c in rows.passkeys_of(db, email)
        ],
    )
    return options_to_json(options)


def register(
    db: Database, actor: Actor, body: bytes, rp_id: str, origin: str, now: datetime
) -> str:
    """Verify a new passkey of ``actor``'s account and keep it; its credential id.
    StaffError for a challenge not theirs, spent or expired, or an answer that fails."""
    credential = _parsed(body)
    if rows.take_challenge(db, _challenge_of(credential), now) != actor.name:
        raise StaffError("That passkey answers no challenge of yours: try adding it again.")
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(_challenge_of(credential)),
            expected_rp_id=rp_id,
            expected_origin=origin,
            require_user_verification=True,
        )
    except WebAuthnException as e:
        raise StaffError(f"The passkey could not be verified: {e}") from e
    key = bytes_to_base64url(verified.credential_id)
    rows.add_passkey(db, key, actor.name, verified.credential_public_key, verified.sign_count, now)
    record(db, now, actor, "passkey.add", actor.name, after={"credential": key})
    return key


def login_options(db: Database, rp_id: str, now: datetime) -> str:
    """The options (JSON) for `navigator.credentials.get`: any discoverable passkey of
    this desk, with user verification."""
    options = generate_authentication_options(
        rp_id=rp_id,
        challenge=_challenge(db, "", now),
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return options_to_json(options)


def log_in(
    config: Config, db: Database, body: bytes, rp_id: str, origin: str, client: str, now: datetime
) -> rows.StaffRow:
    """The account a passkey's answer proves; LoginRefused (the same words as a wrong
    password) for an unknown credential, a challenge not handed out or spent, a bad
    signature or a counter that went back."""
    network = client_network(client)
    account = None
    why = ""
    try:
        credential = _parsed(body)
        challenge = _challenge_of(credential)
        found = rows.get_passkey(db, str(credential.get("id", "")))
        if rows.take_challenge(db, challenge, now) != "":
            why = "a challenge never handed out, spent or expired"
        elif found is None:
            why = "an unknown passkey"
        else:
            email, public_key, count = found
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=base64url_to_bytes(challenge),
                expected_rp_id=rp_id,
                expected_origin=origin,
                credential_public_key=public_key,
                credential_current_sign_count=count,
                require_user_verification=True,
            )
            rows.set_sign_count(db, str(credential["id"]), verified.new_sign_count)
            account = rows.get_staff(db, email)
    except (StaffError, WebAuthnException) as e:
        why = f"the passkey's answer failed: {e}"
    if account is None:
        rows.record_login_failure(db, "", network, now)
        record(
            db,
            now,
            Actor("?", ""),
            "login",
            "passkey",
            outcome="refused",
            detail=f"{why or 'no account'} from {network}",
        )
        raise LoginRefused(REFUSED)
    by_account, by_network = rows.login_failures_since(
        db, now - timedelta(minutes=15), account.email, network
    )
    if max(by_account, by_network) >= config.desk.login_failures:
        record(
            db,
            now,
            Actor(account.email, account.role),
            "login",
            account.email,
            outcome="refused",
            detail=f"too many failures from {network}",
        )
        raise LoginRefused(REFUSED)
    record(
        db,
        now,
        Actor(account.email, account.role),
        "login",
        account.email,
        detail=f"passkey from {network}",
    )
    return account
