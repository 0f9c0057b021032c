"""The providers' APIs as real local parts: moto's SES and SNS server, and an HTTP
server that answers as Mailgun's API documents. tests/conftest.py makes the
fixtures available to every test file."""

import base64
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    """moto's server on 127.0.0.1, and the AWS environment pointing boto3 at it."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{server._server.server_port}"  # type: ignore[attr-defined]
    with pytest.MonkeyPatch.context() as env:
        for name, value in {
            "AWS_ENDPOINT_URL": url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            env.setenv(name, value)
        from digest.mail.ses import ses_client

        ses_client.cache_clear()
        yield url
        ses_client.cache_clear()
    server.stop()


def reset(url: str) -> None:
    """moto forgets everything (identities, sent mail) between tests."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"))


def sent_by_ses(url: str) -> list[dict[str, Any]]:
    import urllib.request

    data = json.load(urllib.request.urlopen(f"{url}/moto-api/data.json"))
    return list(data["ses"]["RawMessage"])


class MailgunApi(http.server.ThreadingHTTPServer):
    """Answers messages.mime as Mailgun documents it."""

    received: list[dict[str, Any]]
    refuse_key: bool = False
    refuse: str = ""  # a 400 answer's message for every message ("" = accept)
    accepted: list[str]  # recipients of the messages answered 200
    refuse_to: set[str]  # recipients answered as a bad address


class MailgunHandler(http.server.BaseHTTPRequestHandler):
    server: MailgunApi

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        fields = form_fields(self.headers["Content-Type"], body)
        expected = "Basic " + base64.b64encode(b"api:key-api").decode()
        if self.server.refuse_key or self.headers["Authorization"] != expected:
            return self._answer(401, {"message": "Forbidden"})
        to = fields["to"].decode()
        self.server.received.append({"path": self.path, **fields})
        if to.startswith("bad") or to in self.server.refuse_to:
            return self._answer(400, {"message": "'to' parameter is not a valid address."})
        if self.server.refuse:
            return self._answer(400, {"message": self.server.refuse})
        self.server.accepted.append(to)
        n = len(self.server.received)
        self._answer(200, {"id": f"<{n}.mailgun@mg.example.com>", "message": "Queued."})

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def form_fields(content_type: str, body: bytes) -> dict[str, bytes]:
    """multipart/form-data fields, each value as its exact bytes."""
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    fields = {}
    for part in body.split(b"--" + boundary)[1:-1]:
        head, _, value = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        name = head.split(b'name="', 1)[1].split(b'"', 1)[0].decode()
        fields[name] = value.removesuffix(b"\r\n")
    return fields


@pytest.fixture
def mailgun_api() -> Iterator[MailgunApi]:
    server = MailgunApi(("127.0.0.1", 0), MailgunHandler)
    server.received, server.accepted, server.refuse_to = [], [], set()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
