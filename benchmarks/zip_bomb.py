"""Peak memory of refusing a small zip that unpacks to about 1 GB (a zip bomb in the
shape of a Mailchimp audience export).

    python benchmarks/zip_bomb.py [--unpacked-mb 1024]

The zip is built here, in a temporary folder, streamed member by member (a header row,
then zeros), and removed afterwards; it is never committed. The import runs in a child
process, so its peak resident memory (ru_maxrss) is its own: printed with the outcome.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HEADER = b'"Email Address","First Name","Last Name"\r\n'

CHILD = """
import sys
from pathlib import Path
sys.path.insert(0, {repo!r})
from digest.errors import DigestError
from digest.readers.exports import read_export
try:
    rows = sum(1 for _ in read_export(Path({path!r}), "mailchimp"))
    print(f"read {{rows}} rows")
except (DigestError, MemoryError) as e:
    print(f"refused: {{type(e).__name__}}: {{str(e)[:160]}}")
"""


def build(path: Path, unpacked_mb: int) -> int:
    """A zip whose one member unpacks to ``unpacked_mb`` MB; its size on disk."""
    zeros = b"0" * (1024 * 1024)
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
        archive.open("subscribed_members_export_5f2c.csv", "w", force_zip64=True) as member,
    ):
        member.write(HEADER)
        for _ in range(unpacked_mb):
            member.write(zeros)
    return path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--unpacked-mb", type=int, default=1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "members_export_5f2c.zip"
        size = build(path, args.unpacked_mb)
        child = CHILD.format(repo=str(REPO), path=str(path))
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", child], capture_output=True, text=True, check=False
        )
        took = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"zip: {size / 2**20:.1f} MB on disk, unpacks to {args.unpacked_mb} MB")
    print(f"outcome: {(done.stdout or done.stderr).strip()[-300:]}")
    print(f"peak memory of the import: {peak_kb / 1024:.0f} MB, {took:.1f} s")


if __name__ == "__main__":
    main()
