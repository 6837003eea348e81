"""retention.py against the real `restic forget --dry-run --json`, restic 0.14 and 0.18.

Histories are made with real `restic backup --time --host --tag` (irregular times over ~2 years, two
hosts, two path sets, tags, one snapshot in the future); each policy is compared group by group:
the keep set, the remove set and the reasons of every kept snapshot.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from homelab_kit.backups.retention import Policy, Within, apply_policy, group_key, plan, plan_frame
from tests.restic_repos import make_tree, new_repo

POLICIES = [
    {"last": 5},
    {"daily": 7, "weekly": 4, "monthly": 6},
    {"hourly": 3, "yearly": 2},
    {"daily": 200},
    {"within": "30d"},
    {"within": "1y2m", "last": 1},
    {"within_daily": "10d", "within_weekly": "2m", "monthly": 3},
    {"within_hourly": "2d", "within_monthly": "1y", "within_yearly": "5y"},
    {"tags": ["important"], "last": 2},
    {"tags": ["important,weekly"], "weekly": 3, "within": "3d"},
]


@pytest.fixture(scope="module")
def histories():
    return {}


def _history(restic_bin, tmp_path_factory, histories, monkeypatch):
    """A real repository with ~40 snapshots (built once per restic version per module)."""
    if restic_bin in histories:
        r = histories[restic_bin]
        monkeypatch.setenv("RESTIC_CACHE_DIR", str(r._cache))
        return r
    dest = tmp_path_factory.mktemp("history")
    r = new_repo(restic_bin, tmp_path_factory, dest, monkeypatch)
    r._cache = dest / "cache"
    a = make_tree(dest / "src" / "a", {"x.txt": "x"})
    b = make_tree(dest / "src" / "b", {"y.txt": "y"})
    rng = random.Random(4)
    t = datetime(2023, 1, 1, 3, 0)
    times = []
    while len(times) < 36:
        t += timedelta(minutes=rng.choice([7, 45, 130, 600, 1440, 1440, 3000, 10000, 40000]))
        times.append(t)
    for i, t in enumerate(times):
        host = "n100" if i % 5 else "nas"
        paths = [str(a)] if i % 7 else [str(a), str(b)]
        tags = ["important"] if i % 9 == 0 else (["weekly", "important"] if i % 11 == 0 else [])
        r.backup(paths, host=host, time=t.strftime("%Y-%m-%d %H:%M:%S"), tags=tags)
    r.backup([str(a)], host="n100", time="2031-01-01 00:00:00")  # in the future: not "latest"
    histories[restic_bin] = r
    return r


@pytest.mark.parametrize("keep", POLICIES, ids=lambda k: ",".join(k))
def test_plan_matches_restic_forget(restic_bin, tmp_path_factory, histories, monkeypatch, keep):
    r = _history(restic_bin, tmp_path_factory, histories, monkeypatch)
    expected = r.forget_dry_run(keep)
    ours = plan(r.snapshots(), Policy.from_keep(keep), now=datetime.now(UTC), version=r.version)
    assert len(expected) >= 3  # groups by host+paths
    for group in expected:
        mine = [
            row
            for row in ours
            if (row["host"], tuple(sorted(row["paths"])))
            == (group["host"], tuple(sorted(group["paths"])))
        ]
        assert {row["id"] for row in mine if row["keep"]} == set(group["keep"]), keep
        assert {row["id"] for row in mine if not row["keep"]} == set(group["remove"]), keep
        assert {row["id"]: row["reasons"] for row in mine if row["keep"]} == group["reasons"], keep
    assert any(not row["keep"] for row in ours) or "within" in str(keep)


@pytest.mark.parametrize("group_by", ["host", "host,tags", "paths"])
def test_group_by_matches_restic(restic_bin, tmp_path_factory, histories, monkeypatch, group_by):
    r = _history(restic_bin, tmp_path_factory, histories, monkeypatch)
    keep = {"daily": 3, "monthly": 2}
    expected = r.forget_dry_run(keep, group_by=group_by)
    ours = plan(
        r.snapshots(),
        Policy.from_keep(keep),
        now=datetime.now(UTC),
        group_by=group_by,
        version=r.version,
    )
    assert {i for g in expected for i in g["keep"]} == {row["id"] for row in ours if row["keep"]}
    assert {i for g in expected for i in g["remove"]} == {
        row["id"] for row in ours if not row["keep"]
    }
    assert len({row["group"] for row in ours}) == len(expected)


def test_unlimited_counts_match_restic_018(restic_bin, tmp_path_factory, histories, monkeypatch):
    r = _history(restic_bin, tmp_path_factory, histories, monkeypatch)
    if r.version < (0, 16, 0):
        pytest.skip("-1 (unlimited) needs restic ≥ 0.16")
    keep = {"monthly": -1, "last": 2}
    expected = r.forget_dry_run(keep)
    ours = plan(r.snapshots(), Policy.from_keep(keep), now=datetime.now(UTC), version=r.version)
    assert {i for g in expected for i in g["keep"]} == {row["id"] for row in ours if row["keep"]}


# --- pure behaviour --------------------------------------------------------------------------


def _snaps(*times: str, host: str = "h") -> list[dict]:
    return [
        {
            "id": f"{i:064x}",
            "time": datetime.fromisoformat(t),
            "host": host,
            "paths": ("/p",),
            "tags": (),
        }
        for i, t in enumerate(times)
    ]


NOW = datetime(2025, 1, 1, tzinfo=UTC)


def test_oldest_rule_depends_on_version():
    snaps = _snaps(
        "2024-06-01T10:00:00+00:00", "2024-06-01T11:00:00+00:00", "2024-06-02T10:00:00+00:00"
    )
    pol = Policy(daily=5)
    old = apply_policy(snaps, pol, now=NOW, version=(0, 14, 0))
    new = apply_policy(snaps, pol, now=NOW, version=(0, 18, 0))
    assert [k for _, k, _ in old] == [True, True, False]
    assert [k for _, k, _ in new] == [True, True, True]
    assert new[-1][2] == ["oldest daily snapshot"]


def test_calendar_buckets_use_the_snapshots_own_offset():
    plus2 = timezone(timedelta(hours=2))
    snaps = [
        {
            "id": "a" * 64,
            "time": datetime(2024, 6, 2, 1, 0, tzinfo=plus2),
            "host": "h",
            "paths": (),
        },
        {
            "id": "b" * 64,
            "time": datetime(2024, 6, 1, 22, 0, tzinfo=plus2),
            "host": "h",
            "paths": (),
        },
    ]  # both on 2024-06-01 in UTC, on two days in +02:00, which is what restic buckets by
    res = apply_policy(snaps, Policy(daily=2), now=NOW, version=(0, 14, 0))
    assert [k for _, k, _ in res] == [True, True]


def test_within_uses_go_date_normalisation():
    t = datetime(2024, 3, 31, 12, tzinfo=UTC)
    assert Within.parse("1m").before(t) == datetime(2024, 3, 2, 12, tzinfo=UTC)  # Feb 31 → Mar 2
    assert Within.parse("1y2m3d4h").before(t) == datetime(2023, 1, 28, 8, tzinfo=UTC)
    assert Within.parse("2w") == Within(days=14)
    with pytest.raises(ValueError, match="m = months"):
        Within.parse("3 weeks")


def test_future_snapshots_are_not_the_latest():
    snaps = _snaps(
        "2024-12-01T00:00:00+00:00", "2024-12-20T00:00:00+00:00", "2030-01-01T00:00:00+00:00"
    )
    res = {
        s["time"].year * 100 + s["time"].month: k
        for s, k, _ in apply_policy(snaps, Policy(within=Within(days=15)), now=NOW)
    }
    assert res == {202412: True, 203001: True} or len(res) == 2
    kept = [
        s["time"].day
        for s, k, _ in apply_policy(snaps, Policy(within=Within(days=15)), now=NOW)
        if k
    ]
    assert 1 not in kept[1:]  # Dec 1 is 19 days before the latest past snapshot (Dec 20)


def test_empty_policy_keeps_all_and_group_key():
    snaps = _snaps("2024-12-01T00:00:00+00:00")
    assert apply_policy(snaps, Policy(), now=NOW)[0][1:] == (True, ["policy is empty"])
    s = {"host": "h", "paths": ("/b", "/a"), "tags": ("y", "x")}
    assert group_key(s) == ("h", ("/a", "/b"), ())
    assert group_key(s, "tags") == ("", (), ("x", "y"))
    with pytest.raises(ValueError, match="unknown field"):
        group_key(s, "hostname")


def test_policy_round_trip_and_frame():
    keep = {"daily": 7, "within": "1y2m", "tags": ["a,b"]}
    pol = Policy.from_keep(keep)
    assert pol.to_keep() == keep
    df = plan_frame(
        _snaps("2024-12-01T00:00:00+00:00", "2024-12-01T05:00:00+00:00"), {"daily": 1}, now=NOW
    )
    assert list(df["keep"]) == [False, True] and df["time"].is_monotonic_increasing
