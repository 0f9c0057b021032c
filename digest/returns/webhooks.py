"""Bounces, complaints and unsubscribes from email providers' webhooks, applied only on
proof.

`digest serve` takes ``POST /webhooks/ses`` (SNS), ``/webhooks/sendgrid``,
``/webhooks/mailgun`` and ``/webhooks/postmark``. Each request is verified first
(`webhook_auth`); then each event it carries becomes a `Returned`, as a returned
message would, and goes through the same proof rule and the same plans as
`process-mail` (`process.plan_returned`): a hard bounce bounces the reader, soft bounces
count to `[bounces] soft_limit`, a complaint or the provider's own unsubscribe link
unsubscribes, and only when the event names a message digest sent that reader: the
provider's id of it in the ledger (SES, Mailgun API sends) or digest's own signed
Message-ID the event quotes (SendGrid's ``smtp-id``, Mailgun's message headers, SES's
headers, Postmark's metadata). An event naming an address alone changes nothing by
itself (a hard bounce sends the address a probe, as for mail). An event already taken
(a provider's retry, a replay) is not applied twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from digest import store
from digest.config import Config, require_real_secret
from digest.returns.bounces import (
    Failure,
    Returned,
    deciding_status,
    is_hard,
    provider_verdict_stands,
    ses_return,
)
from digest.returns.process import MessagePlan, apply_plan, plan_returned
from digest.returns.webhook_auth import (
    SNS_HOST,
    CertificateFetcher,
    WebhookRefused,
    fetch_certificate,
    verify_mailgun,
    verify_postmark,
    verify_sendgrid,
    verify_sns,
)

PROVIDERS = ("ses", "sendgrid", "mailgun", "postmark")
# Postmark's Metadata key for `message.POSTMARK_METADATA` (X-PM-Metadata-<key>).
_METADATA_KEY = "digest-message-id"


@dataclass
class WebhookResult:
    """What one webhook request did: the HTTP status to answer and each event's plan."""

    status: int = 200
    message: str = "ok"
    plans: list[MessagePlan] = field(default_factory=list)
    repeated: int = 0  # events taken before (the provider's retries)
    confirmed: str = ""  # the SNS topic whose subscription was confirmed


Event = tuple[str, Returned]  # (the provider's id of the event, what it says)


def receive(
    db: Database,
    config: Config,
    provider: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    *,
    fetch: CertificateFetcher = fetch_certificate,
    confirm: Callable[[str], None] | None = None,
) -> WebhookResult:
    """Verify one webhook request from ``provider`` and apply its events. A refused
    request raises `WebhookRefused` (its status and why) having changed nothing.
    ``confirm`` visits an SNS SubscribeURL (an HTTPS GET by default)."""
    require_real_secret(config, "Taking provider webhooks (their events are matched by signed ids)")
    if provider not in PROVIDERS:
        raise WebhookRefused(404, f"no webhook for {provider!r}: {', '.join(PROVIDERS)}")
    payload = _body_json(body, provider)
    max_age = config.delivery.webhook_max_age
    result = WebhookResult()
    events: list[Event]
    if provider == "ses":
        verify_sns(payload, config.ses.topic_arns, fetch, now, max_age)
        kind = payload.get("Type")
        if kind != "Notification":
            if kind == "SubscriptionConfirmation":
                (confirm or _visit)(str(payload.get("SubscribeURL", "")))
                result.confirmed = str(payload.get("TopicArn", ""))
            result.message = f"{kind} taken"
            return result
        notification = _json(payload.get("Message"))
        if not isinstance(notification, dict):
            raise WebhookRefused(400, "the SNS Message is not a JSON object")
        events = [(str(payload.get("MessageId", "")), ses_return(notification))]
    elif provider == "sendgrid":
        verify_sendgrid(body, headers, config.sendgrid.webhook_key, now, max_age)
        events = list(_sendgrid(payload))
    elif provider == "mailgun":
        token = verify_mailgun(payload, config.mailgun.signing_key, now, max_age)
        with store.transaction(db):
            if not store.take_webhook_event(db, "mailgun-token", token, now):
                raise WebhookRefused(403, "this Mailgun signature was used before: a replay")
        events = [_mailgun(payload.get("event-data"))]
    else:
        verify_postmark(headers, config.postmark.webhook_password)
        events = [_postmark(payload)]
    for event_id, returned in events:
        with store.transaction(db):  # taken and applied together, or neither
            if event_id and not store.take_webhook_event(db, provider, event_id, now):
                result.repeated += 1
                continue
            if returned.kind in ("other", "delivered"):
                continue
            plan = plan_returned(db, config, f"{provider}:{event_id}", returned, now)
            apply_plan(db, config, plan, now, via=provider)
        result.plans.append(plan)
    result.message = f"{len(result.plans)} events applied, {result.repeated} seen before"
    return result


def _body_json(body: bytes, provider: str) -> Any:
    """The body's JSON, in the shape the provider posts (SendGrid an array of events,
    the others one object); WebhookRefused(400) for any other."""
    payload = _json(body)
    batch = provider == "sendgrid"
    if not isinstance(payload, list if batch else dict):
        raise WebhookRefused(
            400,
            f"the body is JSON {type(payload).__name__}, not the "
            f"{'array' if batch else 'object'} {provider} posts",
        )
    return payload


def _json(data: Any) -> Any:
    try:
        return json.loads(data) if isinstance(data, (bytes, str)) else {}
    except ValueError as e:
        raise WebhookRefused(400, f"the body is not JSON: {e}") from e


def _visit(url: str) -> None:
    """Confirm an SNS subscription: GET its SubscribeURL, on SNS's own host."""
    import httpx

    host = httpx.URL(url).host if url else ""
    if not url.startswith("https://") or not SNS_HOST.match(host):
        raise WebhookRefused(403, f"the SubscribeURL is not SNS's: {url[:100]!r}")
    httpx.get(url, timeout=10.0).raise_for_status()


# ---------------------------------------------------------------- each provider's events


def _bounce(address: str, status: str, hard: bool, words: str, **ids: Any) -> Returned:
    return Returned(
        "bounce",
        failures=(Failure(address.lower(), status, hard, " ".join(words.split())[:300]),),
        **ids,
    )


def _complaint(address: str, ids: Mapping[str, Any]) -> Returned:
    return Returned("complaint", complained=(address.lower(),), feedback_type="abuse", **ids)


def _left(address: str, ids: Mapping[str, Any]) -> Returned:
    return Returned("left", sender=address.lower(), **ids)


def _sendgrid(events: Any) -> Iterator[Event]:
    """SendGrid's event batch: bounce (hard), blocked (soft), dropped, spamreport,
    unsubscribe and group_unsubscribe; the rest (delivered, opens...) say nothing."""
    for event in events if isinstance(events, list) else []:
        if not isinstance(event, dict):
            continue
        address = str(event.get("email", ""))
        ids: dict[str, Any] = {
            "message_ids": tuple(str(event.get(k, "")) for k in ("smtp-id",) if event.get(k)),
            "provider_ids": tuple(
                str(event.get(k, "")).split(".")[0] for k in ("sg_message_id",) if event.get(k)
            ),
        }
        kind, reason = str(event.get("event", "")), str(event.get("reason", ""))
        status = str(event.get("status", ""))
        if kind == "bounce":
            soft = str(event.get("type", "")) == "blocked"
            code, said = deciding_status(status, reason)
            invalid = str(event.get("bounce_classification", "")).lower() == "invalid address"
            hard = not soft and (
                is_hard(code or "5.0.0", said)
                or (invalid and provider_verdict_stands(code or "5.0.0", said))
            )
            returned = _bounce(address, code or status, hard, reason, **ids)
        elif kind == "dropped" and "unsubscribed" in reason.lower():
            returned = _left(address, ids)
        elif kind == "dropped" and "spam" in reason.lower():
            returned = Returned(
                "complaint", complained=(address.lower(),), feedback_type="abuse", **ids
            )
        elif kind == "dropped" and (
            "bounced" in reason.lower() or reason.strip().lower() in ("invalid", "invalid address")
        ):  # not "Invalid SMTPAPI header": the sender's own mistake
            returned = _bounce(address, "5.1.1", True, f"dropped: {reason}", **ids)
        elif kind == "spamreport":
            returned = Returned(
                "complaint", complained=(address.lower(),), feedback_type="abuse", **ids
            )
        elif kind in ("unsubscribe", "group_unsubscribe"):
            returned = _left(address, ids)
        else:
            returned = Returned("other")
        yield str(event.get("sg_event_id", "")), returned


def _mailgun(data: Any) -> Event:
    """Mailgun's event-data: failed (permanent or temporary), complained, unsubscribed."""
    data = data if isinstance(data, dict) else {}
    address = str(data.get("recipient", ""))
    headers = (data.get("message") or {}).get("headers") or {}
    message_id = str(headers.get("message-id", "") if isinstance(headers, dict) else "")
    ids: dict[str, Any] = {
        "message_ids": (f"<{message_id.strip('<>')}>",) if message_id else (),
        "provider_ids": (message_id.strip("<>"),) if message_id else (),
    }
    kind = str(data.get("event", ""))
    reason = str(data.get("reason", ""))
    if kind == "failed" and reason == "suppress-unsubscribe":  # Mailgun's own list
        returned = _left(address, ids)
    elif kind == "failed" and reason == "suppress-complaint":
        returned = _complaint(address, ids)
    elif kind == "failed":
        delivery = data.get("delivery-status") or {}
        delivery = delivery if isinstance(delivery, dict) else {}
        words = " ".join(
            str(delivery.get(k, "")) for k in ("message", "description") if delivery.get(k)
        ) or str(data.get("reason", ""))
        code = str(delivery.get("enhanced-code", "") or delivery.get("code", ""))
        status = code if "." in code else ("5.0.0" if str(code).startswith("5") else "")
        permanent = str(data.get("severity", "")) == "permanent"
        hard = permanent and (
            str(data.get("reason", "")) in ("suppress-bounce", "bounce")
            or is_hard(status or "5.0.0", words)
        )
        returned = _bounce(
            address, status or ("5.0.0" if permanent else "4.0.0"), hard, words, **ids
        )
    elif kind == "complained":
        returned = Returned(
            "complaint", complained=(address.lower(),), feedback_type="abuse", **ids
        )
    elif kind == "unsubscribed":
        returned = _left(address, ids)
    else:
        returned = Returned("other")
    return str(data.get("id", "")), returned


# Postmark's bounce types that say the address is gone (its own verdict, signed by the
# webhook's password); its "Unsubscribe" type is the reader's own request to leave.
_POSTMARK_HARD = {"HardBounce", "BadEmailAddress", "ManuallyDeactivated"}
_POSTMARK_LEFT = {"Unsubscribe"}
# Postmark's bounce types that are no failure of the reader's address: an auto-reply,
# requests and tests, and failures of the sender's own making.
_POSTMARK_NOT_A_BOUNCE = {
    "AutoResponder",
    "Subscribe",
    "OpenRelayTest",
    "ChallengeVerification",
    "Unconfirmed",
    "TemplateRenderingFailed",
    "SMTPApiError",
    "InboundError",
}


def _postmark(payload: Any) -> Event:
    """Postmark's Bounce, SpamComplaint and SubscriptionChange records. A
    SubscriptionChange that suppresses sending says why: a hard bounce bounces, a spam
    complaint is one, a manual suppression (the reader's unsubscribe) leaves; one that
    lifts a suppression (a reactivation) changes nothing here."""
    payload = payload if isinstance(payload, dict) else {}
    address = str(payload.get("Email") or payload.get("Recipient") or "")
    metadata = payload.get("Metadata") or {}
    quoted = str(metadata.get(_METADATA_KEY, "")) if isinstance(metadata, dict) else ""
    ids: dict[str, Any] = {
        "message_ids": (f"<{quoted.strip('<>')}>",) if quoted else (),
        "provider_ids": (str(payload["MessageID"]),) if payload.get("MessageID") else (),
    }
    record = str(payload.get("RecordType", ""))
    if record == "Bounce":
        kind = str(payload.get("Type", ""))
        words = f"{payload.get('Description', '')} {payload.get('Details', '')}"
        if kind == "SpamComplaint":
            returned = Returned(
                "complaint", complained=(address.lower(),), feedback_type="abuse", **ids
            )
        elif kind in _POSTMARK_LEFT:
            returned = _left(address, ids)
        elif kind in _POSTMARK_NOT_A_BOUNCE:
            returned = Returned("autoreply" if kind == "AutoResponder" else "other", **ids)
        else:
            hard = kind in _POSTMARK_HARD
            returned = _bounce(
                address, "5.1.1" if hard else "4.0.0", hard, f"{kind}: {words}", **ids
            )
    elif record == "SpamComplaint":
        returned = Returned(
            "complaint", complained=(address.lower(),), feedback_type="abuse", **ids
        )
    elif record == "SubscriptionChange" and payload.get("SuppressSending") is True:
        reason = str(payload.get("SuppressionReason", ""))
        if reason == "HardBounce":
            returned = _bounce(address, "", True, "Postmark suppressed: HardBounce", **ids)
        elif reason == "SpamComplaint":
            returned = _complaint(address, ids)
        elif reason == "ManualSuppression":
            returned = _left(address, ids)
        else:
            returned = Returned("other")
    else:
        returned = Returned("other")
    return f"{record}:{payload.get('ID', '')}", returned
