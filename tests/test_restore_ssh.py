"""A restore test whose backup host is reached over real SSH (an OpenSSH sshd on loopback).

restic runs on the "remote" host through SshRunner; the restored tree is read there with `find`
and `sha256sum` (restore.tree.HostTree), so only hashes cross the connection. The sshd host shares
this machine's filesystem, so the test can damage the kept tree directly.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from homelab_kit.backups.restic import Restic
from homelab_kit.lab.model import Lab
from homelab_kit.restore.scratch import restore_test, verify_restore
from homelab_kit.testing import start_ssh_hosts

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def ssh_lab(tmp_path_factory):
    base = tmp_path_factory.mktemp("restore-ssh")
    data = base / "srv" / "app"
    (data / "db").mkdir(parents=True)
    (data / "db" / "app.sqlite").write_bytes(os.urandom(200_000))
    (data / "config.yml").write_text("listen: 8080\n")
    (data / "name with spaces.txt").write_text("spaces\n")
    os.symlink("config.yml", data / "current")
    (base / "pw").write_text("ssh-restore-password\n")
    os.chmod(base / "pw", 0o600)
    with start_ssh_hosts(1, base / "sshd", prefix="rs", first=70) as fleet:
        doc = fleet.lab_dict(
            "restore-ssh",
            services={"app": {"host": "rs1", "user": "root", "state_dirs": [str(data)]}},
            backups={
                "b": {
                    "host": "rs1",
                    "repository": str(base / "repo"),
                    "password_file": str(base / "pw"),
                    "restic": shutil.which("restic") or "restic",
                }
            },
        )
        doc["lab"]["journal"] = str(base / "journal.sqlite")
        doc["lab"]["cache_dir"] = str(base / "cache")
        lab = Lab.from_dict(doc, path=base / "lab.toml")
        restic = Restic.for_backup(lab.backups["b"], lab)  # over SSH, like every later call
        restic.init()
        restic.backup([str(data)])
        yield lab, data


def test_restore_test_over_ssh_verifies_clean(ssh_lab):
    lab, data = ssh_lab
    report = restore_test(lab, "b", progress=False)
    assert report.ok, report.problem_list
    assert (report.files, report.symlinks, report.content_files) == (3, 1, 3)
    assert report.restore_seconds > 0 and report.host == "rs1"
    assert not Path(report.target).exists()  # the scratch folder was removed on the host


def test_a_flipped_byte_on_the_host_is_caught(ssh_lab):
    lab, data = ssh_lab
    report = restore_test(lab, "b", keep=True, progress=False)
    assert report.ok
    victim = Path(report.target + str(data)) / "db" / "app.sqlite"
    st = victim.stat()
    blob = bytearray(victim.read_bytes())
    blob[1234] ^= 0xFF
    victim.write_bytes(bytes(blob))
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
    again = verify_restore(lab, "b", report.snapshot_id, report.target, progress=False)
    assert not again.ok
    assert set(zip(again.problems["path"], again.problems["kind"])) == {
        (str(data / "db" / "app.sqlite"), "content")
    }
    shutil.rmtree(report.target)
