"""Fact parsers against recorded output (tests/fixtures/facts/README.md says where each came from),
and gathering over real sshd test hosts into a DataFrame and the journal."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from homelab_kit.cli import main
from homelab_kit.facts import gather as F
from homelab_kit.lab.model import Lab
from homelab_kit.testing import free_port, start_ssh_hosts
from homelab_kit.transport.runner import Result

FIX = Path(__file__).parent / "fixtures" / "facts"


def fx(name: str) -> str:
    return (FIX / name).read_text()


def test_os_release_debian12():
    osr = F.parse_os_release(fx("os-release.debian12.txt"))
    assert osr["PRETTY_NAME"] == "Debian GNU/Linux 12 (bookworm)"
    assert (osr["ID"], osr["VERSION_ID"], osr["VERSION_CODENAME"]) == ("debian", "12", "bookworm")


def test_uname_uptime_cpus_load_memory():
    assert F.parse_uname(fx("uname.txt")) == {
        "kernel_name": "Linux",
        "kernel": "6.18.44-fc-v769",
        "arch": "x86_64",
    }
    assert F.parse_uptime(fx("proc-uptime.txt")) == pytest.approx(481.26)
    assert F.parse_nproc(fx("nproc.txt")) == 2
    assert F.parse_loadavg(fx("proc-loadavg.txt")) == [0.71, 0.31, 0.14]
    mem = F.parse_meminfo(fx("proc-meminfo.txt"))
    assert set(mem) == {"mem_total", "mem_available", "swap_total", "swap_free"}
    assert 0 < mem["mem_available"] <= mem["mem_total"]
    assert mem["mem_total"] % 1024 == 0  # kB converted to bytes


def test_df_keeps_real_filesystems_in_bytes():
    rows = F.parse_df(fx("df-P-B1-T.txt"))
    assert rows == [
        {"filesystem": "/dev/vda", "type": "ext4", "size": 270553174016, "used": 24933576704,
         "available": 84010717184, "mount": "/"},
    ]  # fmt: skip
    assert {r["type"] for r in F.parse_df(fx("df-P-B1-T.txt"), include_pseudo=True)} == {
        "ext4",
        "devtmpfs",
        "tmpfs",
    }


def test_df_mount_point_with_spaces():
    # synthetic line: df prints the mount point last, spaces kept
    text = "Filesystem Type 1-blocks Used Available Capacity Mounted on\n/dev/sdb1 ext4 100 40 60 40% /mnt/My Disk\n"
    assert F.parse_df(text)[0]["mount"] == "/mnt/My Disk"


def test_zpool_list_transcribed_from_docs():
    (pool,) = F.parse_zpool_list(fx("zpool-list-Hp.one-pool.txt"))
    assert pool == {
        "name": "pool_0", "size": 1992864825344, "allocated": 779701190656, "free": 1213163634688,
        "checkpoint": None, "expandsize": None, "fragmentation": 0, "capacity": 39,
        "dedupratio": 1.0, "health": "ONLINE", "altroot": None,
    }  # fmt: skip
    pools = F.parse_zpool_list(fx("zpool-list-Hp.two-pools.txt"))
    assert [(p["name"], p["health"], p["capacity"], p["fragmentation"]) for p in pools] == [
        ("store", "DEGRADED", 30, 9),
        ("zroot", "ONLINE", 76, 67),
    ]


def test_zpool_absent_is_none_not_error():
    fact = next(f for f in F.FACTS if f.name == "zpools")
    missing = Result("h", fact.argv, 127, "", "bash: line 1: zpool: command not found\n", 0.0)
    assert fact.value(missing) is None
    with pytest.raises(F.FactError, match="unexpected `zpool list -Hp` line"):
        fact.value(Result("h", fact.argv, 0, "garbage\tline\n", "", 0.0))


def test_systemd_failed_units_and_unit_states():
    assert F.parse_failed_units(fx("systemctl-failed.transcribed.txt")) == [
        "nginx.service",
        "restic-backups-remotebackup.service",
    ]
    assert F.parse_failed_units("● old.service loaded failed failed Old style\n") == ["old.service"]
    assert F.parse_failed_units(fx("systemctl-failed.no-systemd.stdout")) == []
    states = F.parse_systemctl_show(fx("systemctl-show.transcribed.txt"))
    assert {u: s["active"] for u, s in states.items()} == {
        "vaultwarden.service": "active",
        "mealie.service": "failed",
        "nosuch.service": "inactive",
    }
    assert states["nosuch.service"]["load"] == "not-found"


def test_systemctl_without_systemd_is_an_error_value():
    fact = next(f for f in F.FACTS if f.name == "failed_units")
    res = Result(
        "h",
        fact.argv,
        1,
        fx("systemctl-failed.no-systemd.stdout"),
        fx("systemctl-failed.no-systemd.stderr"),
        0.0,
    )
    with pytest.raises(F.FactError, match="has not been booted with systemd"):
        fact.value(res)


def test_restic_versions():
    assert F.parse_restic_version(fx("restic-version-0.14.txt")) == "0.14.0"
    assert F.parse_restic_version(fx("restic-version-0.18.txt")) == "0.18.0"
    with pytest.raises(F.FactError):
        F.parse_restic_version("Usage: something else")


def test_row_flattens_values_and_keeps_errors():
    values = {
        "os_release": F.parse_os_release(fx("os-release.debian12.txt")),
        "memory": F.parse_meminfo(fx("proc-meminfo.txt")),
        "load": [0.5, 0.4, 0.3],
        "services": F.parse_systemctl_show(fx("systemctl-show.transcribed.txt")),
    }
    r = F.row("n100", values, {"failed_units": "no systemd"})
    assert (r["os_id"], r["load_1m"], r["errors"]) == (
        "debian",
        0.5,
        {"failed_units": "no systemd"},
    )
    assert r["services"]["mealie.service"] == "failed"
    assert r["zpools"] is None


# -- gathering over real SSH -------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    base = tmp_path_factory.mktemp("facts")
    with start_ssh_hosts(2, base / "sshd", prefix="fa", first=60) as fleet:
        fleet["fa2"].add_script(
            "zpool", "printf 'tank\\t1000\\t400\\t600\\t-\\t-\\t3\\t40\\t1.00\\tONLINE\\t-\\n'"
        )  # fa2 "has ZFS": a fake zpool on its PATH printing the documented format
        doc = fleet.lab_dict()
        doc["hosts"]["down"] = {
            **doc["hosts"]["fa1"],
            "address": "127.0.0.69",
            "port": free_port("127.0.0.69"),
        }
        doc["lab"]["journal"] = str(base / "journal.sqlite")
        doc["services"] = {"web": {"host": "fa1", "unit": "web.service", "port": 8080}}
        lab = Lab.from_dict(doc, path=base / "lab.toml")
        lab._fleet = fleet
        yield lab


def test_gather_one_row_per_host_errors_as_values(lab):
    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    df = F.gather(lab, now=now, connect_timeout=3, progress=False)
    assert list(df["host"]) == ["fa1", "fa2", "down"]
    by = df.set_index("host")
    assert by.loc["down", "status"] == "unreachable" and "cannot connect" in by.loc["down", "error"]
    for h in ("fa1", "fa2"):
        assert by.loc[h, "status"] == "ok"
        assert by.loc[h, "os_id"] == "debian"
        assert by.loc[h, "cpus"] >= 1 and by.loc[h, "mem_total"] > 0
        assert any(fs["mount"] == "/" for fs in by.loc[h, "filesystems"])
        assert by.loc[h, "restic_version"].startswith("0.")
    assert by.loc["fa1", "zpools"] is None  # no zpool here: absent, not an error
    assert by.loc["fa2", "zpools"][0]["name"] == "tank"
    # this machine has no running systemd: the unit facts are error values, not exceptions
    assert "failed_units" in by.loc["fa1", "errors"] and "services" in by.loc["fa1", "errors"]
    hist = lab.journal.facts_frame()
    assert sorted(hist["host"]) == ["down", "fa1", "fa2"]
    assert (hist["at"] == now).all()


def test_lab_facts_delegates_and_cli_json(lab, tmp_path, capsys):
    import tomlkit

    assert list(lab.facts(on="fa2", progress=False, record=False)["host"]) == ["fa2"]
    fleet = lab._fleet
    doc = fleet.lab_dict()
    doc["lab"]["journal"] = str(tmp_path / "j.sqlite")
    (tmp_path / "lab.toml").write_text(tomlkit.dumps(doc))
    code = main(["--lab", str(tmp_path / "lab.toml"), "facts", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    rows = json.loads(captured.out)
    assert [r["host"] for r in rows] == ["fa1", "fa2"]
    assert rows[1]["zpools"][0]["health"] == "ONLINE"
    assert main(["--lab", str(tmp_path / "lab.toml"), "facts"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["HOST", "STATUS", "OS"]
    assert "Debian GNU/Linux 12" in out
