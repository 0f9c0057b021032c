"""One store, one machine: a store on a network filesystem (NFS, SMB/CIFS, sshfs...) is
refused, because SQLite's write-ahead log and locks do not hold across machines."""

from pathlib import Path

import pytest

from digest import store
from digest.cli import cli
from digest.errors import StoreError
from digest.store import network_filesystem

from ..conftest import ClockedRunner

MOUNTS = """\
22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw
25 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
88 22 0:47 / /srv/nfs rw,relatime shared:40 - nfs4 files.example.net:/export rw,vers=4.2
89 88 259:3 / /srv/nfs/local rw,relatime shared:41 - xfs /dev/nvme1n1 rw
90 22 0:48 / /mnt/office\\040share rw,relatime shared:42 - cifs //nas/office rw,vers=3.1.1
91 22 0:49 / /home/ed/remote rw,nosuid,nodev,relatime shared:43 - fuse.sshfs ed@box: rw
92 22 0:50 / /var/lib/digest rw,relatime shared:44 - ext4 /dev/vdb rw
"""


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/srv/nfs/digest/digest.db", "nfs4"),
        ("/srv/nfs/local/digest.db", ""),  # a local disk mounted inside the NFS share
        ("/mnt/office share/digest.db", "cifs"),
        ("/home/ed/remote/digest.db", "fuse.sshfs"),
        ("/var/lib/digest/digest.db", ""),
        ("/srv/nfsish/digest.db", ""),  # a prefix of the name is not the mount
        ("/tmp/digest.db", ""),
    ],
)
def test_the_mount_that_holds_the_store_tells_its_filesystem(path: str, kind: str) -> None:
    assert network_filesystem(Path(path), MOUNTS) == kind


def test_a_store_on_a_network_filesystem_is_refused_before_it_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mountinfo = tmp_path / "mountinfo"
    share = tmp_path / "share"
    share.mkdir()
    mountinfo.write_text(
        f"{MOUNTS}93 22 0:51 / {share.resolve()} rw,relatime - nfs server:/digest rw\n"
    )
    monkeypatch.setattr(store, "MOUNTINFO", mountinfo)
    with pytest.raises(StoreError, match=r"network filesystem \(nfs\).*send --workers"):
        store.open_store(share / "digest.db")
    assert not (share / "digest.db").exists()
    runner = ClockedRunner()
    cfg = tmp_path / "c" / "digest.toml"
    assert runner.invoke(cli, ["--config", str(cfg), "init"]).exit_code == 0
    on_share = {"DIGEST_STORE_PATH": str(share / "digest.db")}
    refused = runner.invoke(cli, ["--config", str(cfg), "status"], env=on_share)
    assert refused.exit_code == 1 and "network filesystem (nfs)" in refused.output
    # Beside it, on a local disk, all is well.
    store.open_store(tmp_path / "local" / "digest.db").close()
