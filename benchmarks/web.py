"""One-click unsubscribes (RFC 8058 POSTs) against `digest serve`'s app and a bare
Starlette app, each under uvicorn, in the same run.

    python benchmarks/web.py [--requests 2000] [--connections 8] [--repeats 3]

Three servers, one at a time, interleaved over the repeats: a bare Starlette app (one
route that reads the form and answers a small page), digest's app as `digest serve`
runs it, and digest's app opening the store on every request (as before it kept one
connection per worker thread). Every digest request unsubscribes a different reader
(a real write each). The client is a plain asyncio HTTP/1.1 loop with keep-alive
connections, in this process. Prints requests a second and the server's CPU per
request; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _config import write_config
from _net import free_port

REPO = Path(__file__).resolve().parent.parent
SECRET = "benchmark-secret-0123456789abcdef0123456789"
NOW = datetime(2026, 11, 25, tzinfo=UTC)
BODY = b"List-Unsubscribe=One-Click"


def load_config(config_path: Path) -> object:
    sys.path.insert(0, str(REPO))
    from digest.config import load_config as load

    return load(config_path, {"DIGEST_SECRET": SECRET})


def build_store(config_path: Path, readers: int) -> list[str]:
    """``readers`` active subscribers; each one's one-click path."""
    from digest import store
    from digest.tokens import sign_token

    config = load_config(config_path)
    db = store.open_store(config.store_path)  # type: ignore[attr-defined]
    stamp = store.to_db_time(NOW)
    with db.atomic():
        db.conn.executemany(
            "INSERT INTO subscribers (email, name, topics, status, created_at, updated_at) "
            "VALUES (?, '', '', 'active', ?, ?)",
            ((f"reader{i}@example.org", stamp, stamp) for i in range(readers)),
        )
    ids = [r[0] for r in db.execute("SELECT id FROM subscribers ORDER BY id").fetchall()]
    db.close()
    list_id = config.list_id  # type: ignore[attr-defined]
    return [f"/digest/unsubscribe/{sign_token(SECRET, list_id, i)}" for i in ids]


def serve(kind: str, port: int, config_path: Path) -> None:
    """Run one server (in a child process) until killed."""
    import uvicorn

    if kind == "bare":
        from urllib.parse import parse_qs

        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import HTMLResponse
        from starlette.routing import Route

        async def unsubscribe(request: Request) -> HTMLResponse:
            form = parse_qs((await request.body()).decode())
            if form.get("List-Unsubscribe") != ["One-Click"]:
                return HTMLResponse("bad request", 400)
            token = request.path_params["token"]
            return HTMLResponse(f"<!doctype html><p>{token[:8]}: you are unsubscribed.</p>")

        app = Starlette(
            routes=[Route("/digest/unsubscribe/{token}", unsubscribe, methods=["POST"])]
        )
    else:
        from digest import store
        from digest.web import stores
        from digest.web.app import create_app

        config = load_config(config_path)
        if kind == "digest-open-per-request":

            def run(self: stores.StorePool, work):  # type: ignore[no-untyped-def]
                with store.open_store(self.path) as db:
                    return work(db)

            stores.StorePool.run = run  # type: ignore[method-assign]
        app = create_app(config, clock=lambda: NOW, send_queue=False)  # type: ignore[arg-type]
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


async def _client(port: int, paths: list[str], failures: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for path in paths:
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(BODY)}\r\n\r\n".encode()
            + BODY
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            failures.append(1)
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await reader.readexactly(length)
    writer.close()
    await writer.wait_closed()


def load(port: int, paths: list[str], connections: int) -> tuple[float, int]:
    """(seconds, failures) to POST every path over ``connections`` connections."""
    failures: list[int] = []

    async def all_clients() -> None:
        share = [paths[i::connections] for i in range(connections)]
        await asyncio.gather(*(_client(port, s, failures) for s in share))

    start = time.perf_counter()
    asyncio.run(all_clients())
    return time.perf_counter() - start, len(failures)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(kind: str, config_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, "DIGEST_SECRET": SECRET, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, str(port), str(config_path)],
        env=env,
        cwd=config_path.parent,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"the {kind} server did not start")


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    kinds = ["bare", "digest", "digest-open-per-request"]
    with tempfile.TemporaryDirectory() as tmp:
        config_path = write_config(Path(tmp))
        paths = build_store(config_path, args.requests * args.repeats * 2)
        fresh = iter(range(0, len(paths), args.requests))
        results: dict[str, list[tuple[float, float]]] = {k: [] for k in kinds}
        for _ in range(args.repeats):  # interleaved: the machine's load falls on each alike
            for kind in kinds:
                start = 0 if kind == "bare" else next(fresh)  # a reader unsubscribes once
                batch = paths[start : start + args.requests]
                proc, port = start_server(kind, config_path)
                try:
                    load(port, batch[:50], args.connections)  # warm up (threads, imports)
                    cpu = _cpu_seconds(proc.pid)
                    seconds, failures = load(port, batch[50:], args.connections)
                    cpu = _cpu_seconds(proc.pid) - cpu
                finally:
                    proc.terminate()
                    proc.wait()
                if failures:
                    raise SystemExit(f"{kind}: {failures} requests did not answer 200")
                n = len(batch) - 50
                results[kind].append((n / seconds, cpu / n))
    bare = max(r[0] for r in results["bare"])
    print(
        f"one-click unsubscribes, {args.requests - 50:,} a run over {args.connections} "
        f"connections, best of {args.repeats} interleaved runs"
    )
    print(f"{'server':<34} {'requests/s':>11} {'server CPU ms/req':>18} {'vs bare':>8}")
    for kind in kinds:
        rate = max(r[0] for r in results[kind])
        cpu = min(r[1] for r in results[kind])
        print(f"{kind:<34} {rate:11,.0f} {cpu * 1000:18.2f} {rate / bare:7.2f}x")


if __name__ == "__main__":
    main()
