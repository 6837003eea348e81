"""Capacity series from the journal's facts history, the forecast table, what-ifs and the CLI.

The facts history is written into a real SQLite journal with `journal.record_facts`, in the exact
shape facts.py records (its own df/zpool parsers turn df-style text into the facts), so the CLI
reads what a real `homelab-kit facts` timer would have left behind.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from homelab_kit.capacity.forecast import (
    alerts,
    filesystem_series,
    forecast,
    hosting_filesystem,
    repository_series,
)
from homelab_kit.capacity.sizes import format_bytes, parse_size
from homelab_kit.capacity.whatif import (
    Scenario,
    add_service,
    bigger_disk,
    projection,
    what_if,
)
from homelab_kit.cli import main
from homelab_kit.facts.gather import parse_df, parse_zpool_list
from homelab_kit.lab.model import load_lab

GB = 10**9
NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
DAYS = 60


def df_text(rows: list[tuple[str, str, int, int, str]]) -> str:
    """`df -P -B1 -T` output for (device, fstype, size, used, mount) rows (avail = size - used)."""
    head = "Filesystem     Type     1-blocks      Used Available Capacity Mounted on\n"
    lines = [f"{d} {t} {s} {u} {s - u} {round(100 * u / s)}% {m}" for d, t, s, u, m in rows]
    return head + "\n".join(lines) + "\n"


def history(rng: np.random.Generator) -> list[tuple[str, dict, datetime]]:
    """60 days: nas /srv/media fills within 30 days, nas / is flat, server pool tank grows slowly,
    server /var is shrinking, server /boot has a single observation (added yesterday)."""
    out = []
    for day in range(DAYS):
        at = NOW - timedelta(days=DAYS - day)
        media = int(310 * GB + 8 * GB * day + rng.normal(0, 0.5 * GB))
        root = int(20 * GB + rng.normal(0, 0.2 * GB))
        nas = df_text(
            [("/dev/sda1", "ext4", 50 * GB, root, "/"), ("tmpfs", "tmpfs", 8 * GB, GB, "/run"),
             ("/dev/sdb1", "ext4", 1000 * GB, media, "/srv/media")]
        )  # fmt: skip
        var = int(300 * GB - 1 * GB * day + rng.normal(0, 0.2 * GB))
        server_rows = [("/dev/nvme0n1p2", "ext4", 500 * GB, var, "/var")]
        if day == DAYS - 1:
            server_rows.append(("/dev/nvme0n1p1", "vfat", GB, GB // 10, "/boot"))
        alloc = int(2000 * GB + 2 * GB * day)
        zpool = f"tank\t{8000 * GB}\t{alloc}\t{8000 * GB - alloc}\t-\t-\t3\t{alloc * 100 // (8000 * GB)}\t1.00\tONLINE\t-\n"
        out.append(("nas", {"status": "ok", "filesystems": parse_df(nas), "zpools": None}, at))
        out.append(
            (
                "server",
                {
                    "status": "ok",
                    "filesystems": parse_df(df_text(server_rows)),
                    "zpools": parse_zpool_list(zpool),
                },
                at,
            )
        )
        if day == 30:  # an unreachable gathering: no filesystems at all, must not read as empty
            out.append(
                (
                    "nas",
                    {"status": "unreachable", "filesystems": None, "zpools": None},
                    at + timedelta(hours=1),
                )
            )
    return out


@pytest.fixture
def lab_path(tmp_path: Path) -> Path:
    (tmp_path / "lab.toml").write_text(
        '[lab]\nname = "cap"\njournal = "journal.sqlite"\n\n'
        '[hosts.nas]\ntransport = "local"\nroles = ["nas"]\n\n'
        '[hosts.server]\ntransport = "local"\nroles = ["server"]\n'
    )
    lab = load_lab(tmp_path / "lab.toml")
    for host, facts, at in history(np.random.default_rng(11)):
        lab.journal.record_facts(host, facts, at)
    return tmp_path / "lab.toml"


@pytest.fixture
def series(lab_path: Path) -> pd.DataFrame:
    return filesystem_series(load_lab(lab_path).journal.facts_frame())


def test_series_from_the_journal_skip_pseudo_and_failed_gatherings(series: pd.DataFrame):
    keys = set(series[["kind", "host", "name"]].itertuples(index=False, name=None))
    assert keys == {
        ("filesystem", "nas", "/"),
        ("filesystem", "nas", "/srv/media"),
        ("filesystem", "server", "/var"),
        ("filesystem", "server", "/boot"),
        ("zpool", "server", "tank"),
    }
    media = series[series["name"] == "/srv/media"]
    assert len(media) == DAYS  # the unreachable gathering added nothing
    assert (media["capacity_bytes"] == 1000 * GB).all()  # used + available
    assert series["at"].dt.tz is not None


def test_forecast_table_answers_per_series(series: pd.DataFrame):
    tab = forecast(series, now=NOW, horizon=timedelta(days=365)).set_index(["host", "name"])
    media = tab.loc[("nas", "/srv/media")]
    used_now = 310 * GB + 8 * GB * DAYS
    assert media["status"] == "growing"
    assert media["growth_bytes_per_day"] == pytest.approx(8 * GB, rel=0.05)
    assert media["days_to_full"] == pytest.approx((1000 * GB - used_now) / (8 * GB), rel=0.1)
    assert media["days_to_80"] < media["days_to_90"] < media["days_to_full"]
    assert tab.loc[("nas", "/"), "status"] == "not growing"
    assert tab.loc[("nas", "/"), "days_to_full"] is None or pd.isna(
        tab.loc[("nas", "/"), "days_to_full"]
    )
    assert tab.loc[("server", "/var"), "status"] == "shrinking"
    assert tab.loc[("server", "/boot"), "status"] == "not enough history"
    tank = tab.loc[("server", "tank")]
    assert tank["kind"] == "zpool" and tank["growth_bytes_per_day"] == pytest.approx(
        2 * GB, rel=0.01
    )
    assert tank["days_to_80"] == pytest.approx((6400 - 2000 - 2 * DAYS) / 2, abs=1.5)
    # soonest first
    assert tab.index[0] == ("nas", "/srv/media")
    assert list(alerts(tab.reset_index(), timedelta(days=30))["name"]) == ["/srv/media"]
    assert alerts(tab.reset_index(), timedelta(days=5)).empty


def test_cli_json_lists_every_series_and_exits_1_within_the_window(lab_path: Path, capsys):
    code = main(["--lab", str(lab_path), "capacity", "--json", "--now", NOW.isoformat()])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    by = {(r["host"], r["name"]): r for r in out}
    for key in (
        "host",
        "name",
        "used_bytes",
        "size_bytes",
        "growth_bytes_per_day",
        "days_to_80",
        "days_to_full",
    ):
        assert all(key in r for r in out), key
    media = by[("nas", "/srv/media")]
    assert isinstance(media["used_bytes"], int) and media["size_bytes"] == 1000 * GB
    assert 0 < media["days_to_full"] < 30
    assert by[("nas", "/")]["days_to_full"] is None and by[("nas", "/")]["days_to_80"] is None
    assert by[("server", "/boot")]["growth_bytes_per_day"] is None
    assert by[("server", "/var")]["days_to_full"] is None


def test_cli_table_warns_and_a_short_window_is_quiet(lab_path: Path, capsys):
    code = main(["--lab", str(lab_path), "capacity", "--now", NOW.isoformat()])
    out = capsys.readouterr().out
    assert code == 1
    assert "/srv/media" in out and "DAYS_TO_FULL" in out and "not enough history" in out
    assert "WARNING: filesystem nas:/srv/media fills in" in out
    assert main(["--lab", str(lab_path), "capacity", "--warn", "3d", "--now", NOW.isoformat()]) == 0
    out = capsys.readouterr().out
    assert "WARNING" not in out
    # beyond the horizon shows as >N days
    main(
        [
            "--lab",
            str(lab_path),
            "capacity",
            "--horizon",
            "30d",
            "--warn",
            "1d",
            "--now",
            NOW.isoformat(),
        ]
    )
    assert ">30" in capsys.readouterr().out


def test_cli_bad_input_exits_2(lab_path: Path, capsys):
    assert main(["--lab", str(lab_path), "capacity", "--horizon", "soon"]) == 2
    assert "--horizon" in capsys.readouterr().err
    assert main(["--lab", str(lab_path), "capacity", "--now", "yesterday"]) == 2


def test_cli_on_an_empty_journal_says_what_to_do(tmp_path: Path, capsys):
    (tmp_path / "lab.toml").write_text('[lab]\nname = "empty"\n\n[hosts.a]\ntransport = "local"\n')
    assert main(["--lab", str(tmp_path / "lab.toml"), "capacity"]) == 0
    assert "homelab-kit facts" in capsys.readouterr().out
    assert main(["--lab", str(tmp_path / "lab.toml"), "capacity", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_real_facts_gathered_here_become_series(tmp_path: Path):
    """Real `df` on this machine through facts.gather (local transport), recorded in the journal."""
    (tmp_path / "lab.toml").write_text(
        '[lab]\nname = "real"\n\n[hosts.here]\ntransport = "local"\n'
    )
    lab = load_lab(tmp_path / "lab.toml")
    lab.facts(now=NOW - timedelta(days=1), progress=False)
    lab.facts(now=NOW, progress=False)
    s = filesystem_series(lab.journal.facts_frame())
    assert len(s) and set(s["host"]) == {"here"}
    assert "/" in set(s["name"]) or len(set(s["name"])) >= 1
    tab = forecast(s, now=NOW)
    assert (tab["status"] == "not enough history").all()
    assert tab["days_to_full"].isna().all() | (tab["status"] == "full").any()


def test_what_if_add_service_and_bigger_disk(series: pd.DataFrame):
    target = ("filesystem", "nas", "/srv/media")
    scen = [
        add_service("100G", "30G", name="immich"),
        bigger_disk("4T"),
        add_service("0", "0", "nothing"),
    ]
    tab = what_if(series, target, scen, now=NOW).set_index("scenario")
    base = tab.iloc[0]
    assert tab.index[0] == "as is"
    svc = tab.loc[scen[0].name]
    assert svc["days_to_full"] < base["days_to_full"]
    assert svc["growth_bytes_per_day"] == pytest.approx(
        base["growth_bytes_per_day"] + 30 * GB / (365.25 / 12), rel=1e-6
    )
    assert svc["used_bytes"] == pytest.approx(base["used_bytes"] + 100 * GB, rel=1e-6)
    disk = tab.loc[scen[1].name]
    assert disk["size_bytes"] == 4 * 10**12
    assert disk["days_to_full"] == pytest.approx(
        (4000 * GB - base["used_bytes"]) / base["growth_bytes_per_day"], rel=0.02
    )
    assert tab.loc[scen[2].name, "days_to_full"] == pytest.approx(base["days_to_full"], abs=0.1)
    combined = what_if(series, target, [scen[0] + scen[1]], now=NOW).iloc[1]
    assert base["days_to_full"] < combined["days_to_full"] < disk["days_to_full"]


def test_what_if_on_a_flat_disk_uses_the_added_growth_only(series: pd.DataFrame):
    tab = what_if(series, ("filesystem", "nas", "/"), [add_service("5G", "1G")], now=NOW)
    assert tab["days_to_full"].iloc[0] is None or pd.isna(tab["days_to_full"].iloc[0])
    added = tab.iloc[1]
    assert added["days_to_full"] == pytest.approx(
        (50 * GB - 20 * GB - 5 * GB) / (GB / (365.25 / 12)), rel=0.05
    )


def test_projection_curves_per_scenario(series: pd.DataFrame):
    p = projection(
        series,
        ("filesystem", "nas", "/srv/media"),
        [bigger_disk("4T")],
        now=NOW,
        horizon=timedelta(days=90),
    )
    assert set(p["scenario"]) == {"as is", "disk 3.6 TiB"}
    as_is = p[p["scenario"] == "as is"]
    assert as_is["fraction"].is_monotonic_increasing and as_is["fraction"].iloc[-1] > 1.0
    assert (p[p["scenario"] != "as is"]["fraction"] < 0.5).all()


def test_repository_series_on_its_filesystem(series: pd.DataFrame):
    sizes = pd.DataFrame(
        {
            "backup": "offsite",
            "time": pd.date_range(NOW - timedelta(days=40), periods=40, freq="D"),
            "repository_bytes": 100 * GB + 2 * GB * np.arange(40),
        }  # fmt: skip
    )
    rs = repository_series(
        sizes, fs_series=series, repositories={"offsite": ("nas", "/srv/media/restic")}
    )
    assert set(rs["kind"]) == {"repository"} and (rs["capacity_bytes"] == 1000 * GB).all()
    media = hosting_filesystem(series, "nas", "/srv/media/restic")
    assert media is not None and media["name"] == "/srv/media"
    assert hosting_filesystem(series, "nas", "/srv/mediathek")["name"] == "/"
    row = forecast(rs, now=NOW).iloc[0]
    free = 1000 * GB - media["used_bytes"]
    assert row["days_to_full"] == pytest.approx(free / (2 * GB) - 1, abs=1.5)
    remote = repository_series(sizes, repositories={"offsite": ("nas", "sftp:box:/restic")})
    r = forecast(remote, now=NOW).iloc[0]
    assert r["capacity_bytes"] is None and r["days_to_full"] is None and r["status"] == "growing"


def test_sizes_parse_and_format():
    assert parse_size("500M") == 500 * 10**6
    assert parse_size("1.5T") == 1_500 * GB
    assert parse_size("20GiB") == 20 * 1024**3
    assert parse_size("4 TB") == 4 * 10**12
    assert parse_size(1234) == 1234
    with pytest.raises(ValueError, match="500M"):
        parse_size("lots")
    assert format_bytes(1536 * 1024**2) == "1.5 GiB"
    assert format_bytes(None) == "-"
    assert Scenario("a", 1, 2) + Scenario("b", 3, 4, 10) == Scenario("a + b", 4, 6, 10)
