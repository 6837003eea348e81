"""Backup analysis on a real lab (local-transport hosts) and real restic repositories, 0.14 + 0.18."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta

import pytest

from homelab_kit.backups import analysis as bk
from homelab_kit.backups.coverage import coverage, freshness, prometheus_text
from homelab_kit.backups.listing import parse_nodes
from homelab_kit.cli import main
from homelab_kit.lab.model import Lab
from tests.restic_repos import make_tree, new_repo

NOW = datetime(2024, 6, 9, 12, 0, tzinfo=UTC)


def _lab(tmp_path, repo, restic_bin, *, max_age="26h"):
    doc = {
        "lab": {"name": "t", "domain": "home.test"},
        "hosts": {"n100": {"transport": "local", "roles": ["server"]}},
        "services": {
            "vault": {"host": "n100", "state_dirs": ["hosts/n100/var/lib/vault"]},
            "photos": {
                "host": "n100",
                "state_dirs": ["hosts/n100/var/lib/photos", "hosts/n100/etc/photos.conf"],
            },
            "wiki": {"host": "n100", "state_dirs": ["hosts/n100/var/lib/wiki"]},
        },
        "backups": {
            "main": {
                "host": "n100",
                "repository": str(repo.repository),
                "password_file": str(repo.password_file),
                "restic": restic_bin,
                "schedule": "daily",
                "max_age": max_age,
                "keep": {"daily": 3, "weekly": 2},
            }
        },
    }
    (tmp_path / "lab.toml").write_text("")  # so relative paths resolve under tmp_path
    return Lab.from_dict(doc, path=tmp_path / "lab.toml")


@pytest.fixture
def lab(restic_bin, tmp_path_factory, tmp_path, monkeypatch):
    """A lab whose backup 'main' has 4 daily snapshots: photos shrinks, wiki was dropped."""
    repo = new_repo(restic_bin, tmp_path_factory, tmp_path / "r", monkeypatch)
    root = tmp_path / "hosts" / "n100"
    make_tree(root / "var/lib/vault", {"db.sqlite3": b"v" * 4000, "attachments/a.bin": b"a" * 1000})
    make_tree(root / "var/lib/photos", {f"p{i}.jpg": b"p" * 2000 for i in range(5)})
    make_tree(root / "var/lib/wiki", {"pages.db": b"w" * 800})
    make_tree(root / "etc", {"photos.conf": "x=1\n"})
    lab = _lab(tmp_path, repo, restic_bin)
    paths = bk.backup_paths(lab, "main")
    for day in (6, 7, 8):
        bk.run_backup(lab, "main", time=f"2024-06-0{day} 03:00:00")
    for i in range(4):
        (root / f"var/lib/photos/p{i}.jpg").unlink()
    r = bk.restic_for(lab, "main")
    r.backup([p for p in paths if "wiki" not in p], host="n100", time="2024-06-09 03:00:00")
    return lab


def test_snapshots_stats_growth_and_stats_cache(lab, monkeypatch):
    snaps = bk.snapshots(lab, "main")
    assert (
        len(snaps) == 4 and snaps["time"].is_monotonic_increasing and snaps["host"].eq("n100").all()
    )
    stats = bk.snapshot_stats(lab, "main", snaps, progress=False)
    assert list(stats["restore_size"]) == [15804, 15804, 15804, 7004]
    g = bk.growth(stats)
    assert g["delta"].iloc[-1] == -8800
    # second time: every snapshot's stats come from the journal, restic stats is never run
    monkeypatch.setattr(
        "homelab_kit.backups.restic.Restic.stats", lambda *a, **k: pytest.fail("asked restic again")
    )
    again = bk.snapshot_stats(lab, "main", snaps, progress=False)
    assert list(again["restore_size"]) == list(stats["restore_size"])


def test_listing_service_sizes_and_parquet_cache(lab, tmp_path):
    snaps = bk.snapshot_records(lab, "main")
    first, last = snaps[0]["id"], snaps[-1]["id"]
    sizes = bk.service_sizes(lab, "main", first).set_index("path")
    photos_dir = [p for p in sizes.index if p.endswith("var/lib/photos")][0]
    assert sizes.loc[photos_dir, "size"] == 10000 and sizes.loc[photos_dir, "files"] == 5
    conf = [p for p in sizes.index if p.endswith("photos.conf")][0]
    assert sizes.loc[conf, "size"] == 4 and sizes["present"].all()
    growth = bk.service_growth(lab, "main", first, last).set_index("service")
    assert growth.loc["photos", "delta"] == -8000 and growth.loc["wiki", "size_new"] == 0
    big = bk.biggest_dirs(lab, "main", first, n=3)
    assert big["size"].iloc[0] == 15804
    # the listing is cached as parquet: it still works with the repository gone
    shutil.move(lab.backups["main"].repository, tmp_path / "moved")
    lst = bk.listing(lab, "main", first)
    assert lst.from_cache and lst.size_of([photos_dir])[photos_dir] == (10000, 5)


def test_freshness_and_coverage_findings(lab):
    fresh = freshness(lab, NOW)
    assert fresh.loc[0, "status"] == "ok" and fresh.loc[0, "snapshots"] == 4
    late = freshness(lab, NOW + timedelta(days=2))
    assert late.loc[0, "status"] == "overdue" and late.loc[0, "age"] > timedelta(days=2)
    cov = coverage(lab, NOW).set_index("service")
    assert cov.loc["vault", "status"] == "ok"
    assert cov.loc["wiki", "status"] == "disappeared" and "2024-06-08" in cov.loc["wiki", "message"]
    photos = cov.loc["photos"].set_index("status")
    assert (
        photos.loc["size_drop", "size"] == 2000
        and photos.loc["size_drop", "previous_size"] == 10000
    )
    text = prometheus_text(fresh, cov.reset_index())
    assert 'restic_backup_timestamp{backup="main",client_hostname="n100"} 1.7179e+09' in text
    assert 'restic_backup_coverage{backup="main",service="wiki"' in text


def test_never_backed_up_and_partial(lab, tmp_path):
    svc_dir = tmp_path / "hosts/n100/var/lib/new"
    make_tree(svc_dir, {"x": "1"})
    doc_lab = Lab.from_dict(
        {
            "lab": {"name": "t"},
            "hosts": {"n100": {"transport": "local"}},
            "services": {"new": {"host": "n100", "state_dirs": [str(svc_dir)]}},
            "backups": {
                "main": {
                    k: v
                    for k, v in vars(lab.backups["main"]).items()
                    if k in ("host", "repository", "password_file", "restic")
                }
            },
        },
        path=tmp_path / "lab.toml",
    )
    cov = coverage(doc_lab, NOW)
    assert list(cov["status"]) == ["never"]
    with doc_lab.journal.run("backup") as run:  # a partial run as run_backup records it
        run.summary.update(
            backup="main",
            exit_code=3,
            snapshot_id=bk.snapshot_records(doc_lab, "main")[-1]["short_id"],
        )
    assert "partial" in set(coverage(doc_lab, NOW)["status"])


def test_parse_nodes_cumulative_dirs():
    nodes = [
        {"path": "/srv", "type": "dir"},
        {"path": "/srv/a", "type": "dir"},
        {"path": "/srv/a/f", "type": "file", "size": 5},
        {"path": "/srv/a/b/g", "type": "file", "size": 7},
        {"path": "/srv/l", "type": "symlink"},
    ]
    nodes_df, dirs = parse_nodes(nodes)
    d = dirs.set_index("path")
    assert d.loc["/srv", "size"] == 12 and d.loc["/srv", "files"] == 3
    assert d.loc["/srv/a/b", "size"] == 7 and d.loc["/", "size"] == 12
    assert len(nodes_df) == 5 and nodes_df["size"].sum() == 12


def test_cli_exit_codes_json_and_prometheus(lab, tmp_path, capsys):
    lab_file = tmp_path / "lab2.toml"
    b = lab.backups["main"]
    lab_file.write_text(
        f'[lab]\nname = "t"\n[hosts.n100]\ntransport = "local"\n'
        f'[services.vault]\nhost = "n100"\nstate_dirs = ["hosts/n100/var/lib/vault"]\n'
        f'[backups.main]\nhost = "n100"\nrepository = "{b.repository}"\npassword_file = "{b.password_file}"\n'
        f'restic = "{b.restic}"\nmax_age = "26h"\nkeep = {{ daily = 2 }}\n'
    )
    prom = tmp_path / "restic.prom"
    assert (
        main(
            [
                "--lab",
                str(lab_file),
                "backups",
                "freshness",
                "--now",
                "2024-06-09T12:00:00+00:00",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)[0]["status"] == "ok"
    assert (
        main(
            [
                "--lab",
                str(lab_file),
                "backups",
                "freshness",
                "--now",
                "2024-06-20T00:00:00",
                "--prometheus",
                str(prom),
            ]
        )
        == 1
    )
    assert "restic_backup_overdue" in prom.read_text() and "overdue" in capsys.readouterr().out
    assert (
        main(["--lab", str(lab_file), "backups", "coverage", "--now", "2024-06-09T12:00:00+00:00"])
        == 0
    )
    capsys.readouterr()
    assert main(["--lab", str(lab_file), "backups", "forget-plan", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert len(plan) == 4 and all(len(p["id"]) == 64 for p in plan)
    restic_says = bk.restic_for(lab, "main").forget_dry_run({"daily": 2})
    assert {p["id"] for p in plan if p["keep"]} == {i for g in restic_says for i in g["keep"]}
    assert (
        main(
            [
                "--lab",
                str(lab_file),
                "backups",
                "forget-plan",
                "--keep-last",
                "1",
                "--group-by",
                "host",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "last snapshot" in out and ("3 to remove" in out or "oldest last snapshot" in out)
    assert main(["--lab", str(lab_file), "backups", "forget-plan", "--keep-within", "3weeks"]) == 2
    assert main(["--lab", str(lab_file), "backups", "snapshots", "--backup", "nope"]) == 2
    assert main(["--lab", str(lab_file), "backups", "growth", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[-1]["restore_size"] == 7004


def test_notebook_runs_headless(lab, tmp_path, restic_bin):
    """notebooks/10_backup_analysis.ipynb under papermill against this lab (once: newest restic)."""
    if restic_bin != max(__import__("tests.conftest", fromlist=["x"]).restic_binaries().values()):
        pytest.skip("the notebook runs once, with the newest restic")
    import papermill as pm

    from tests.conftest import ROOT

    b = lab.backups["main"]
    lab_file = tmp_path / "lab.toml"
    lab_file.write_text(
        f'[lab]\nname = "t"\n[hosts.n100]\ntransport = "local"\n'
        f'[services.vault]\nhost = "n100"\nstate_dirs = ["hosts/n100/var/lib/vault"]\n'
        f'[services.wiki]\nhost = "n100"\nstate_dirs = ["hosts/n100/var/lib/wiki"]\n'
        f'[backups.main]\nhost = "n100"\nrepository = "{b.repository}"\npassword_file = "{b.password_file}"\n'
        f'restic = "{b.restic}"\nmax_age = "26h"\nkeep = {{ daily = 2 }}\n'
    )
    out = tmp_path / "run.ipynb"
    pm.execute_notebook(
        str(ROOT / "notebooks/10_backup_analysis.ipynb"),
        str(out),
        parameters={
            "lab_path": str(lab_file),
            "now": "2024-06-20T00:00:00+00:00",
            "history_points": 3,
        },
        kernel_name="python3",
        progress_bar=False,
        cwd=str(tmp_path),
    )
    text = out.read_text()
    for needle in ("overdue", "disappeared", "daily snapshot", "image/png"):
        assert needle in text, needle
