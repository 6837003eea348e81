"""Deploys over real sshd test hosts (homelab_kit.testing), with recording stand-ins for the tools.

`nixos-rebuild`, `docker` and `systemctl` cannot run here, so on the test hosts (and on the
workstation's PATH, for `nixos-rebuild --target-host`) they are small shell scripts that record
their argv (with the host they ran for, and the working folder) and then succeed, fail, hang or
wait at a barrier, as each test asks. Everything else is real: SSH sessions, the rollout's thread
pool, health checks (a real HTTP server on 127.0.0.1, real TCP connects, curl), the SQLite journal.
"""

from __future__ import annotations

import http.server
import os
import threading
import time
from pathlib import Path

import pytest

from homelab_kit import testing
from homelab_kit.deploy.planner import deploy_plan
from homelab_kit.lab.model import Lab

FAKE = r"""#!/bin/sh
# Test stand-in for @TOOL@: records argv, then does what $STATE/mode/HOST/@TOOL@ says.
state=@STATE@
tool=@TOOL@
key=local
[ -n "$SSH_CONNECTION" ] && key=$(echo "$SSH_CONNECTION" | cut -d' ' -f3)
prev=
for a in "$@"; do [ "$prev" = --target-host ] && key=${a#*@}; prev=$a; done
line=$(printf '%s\t%s\t%s' "$key" "$tool" "$PWD"; for a in "$@"; do printf '\t%s' "$a"; done)
printf '%s\n' "$line" >> "$state/calls.log"  # one write: parallel hosts never interleave
mode=$(cat "$state/mode/$key/$tool" 2>/dev/null || echo ok)
case "$mode" in
  fail) echo "$tool: simulated failure on $key" >&2; exit 1;;
  hang) touch "$state/hanging.$key"; exec sleep 60;;
  fail-once-on*)
    case " $* " in *" ${mode#fail-once-on } "*)
      [ -e "$state/failed.$key" ] || { touch "$state/failed.$key"; echo "$tool: failed once" >&2; exit 1; };;
    esac;;
  barrier*)
    n=${mode#barrier }; touch "$state/barrier.$key"; i=0
    while [ "$(ls "$state" | grep -c '^barrier\.')" -lt "$n" ]; do
      i=$((i+1)); [ $i -gt 200 ] && { echo "barrier: only some hosts ran at once" >&2; exit 1; }
      sleep 0.05
    done;;
esac
case "$tool $1 $2" in
  "docker compose images") cat "$state/images/$key.json" 2>/dev/null || echo '[]';;
  "systemctl is-active "*) echo active;;
esac
exit 0
"""
TOOLS = ("nixos-rebuild", "docker", "systemctl")


class Fakes:
    """The stand-in tools' folder: set modes per host, read the recorded calls."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "bin"
        self.state = root / "state"
        self.bin.mkdir(parents=True)
        for tool in TOOLS:
            p = self.bin / tool
            p.write_text(FAKE.replace("@STATE@", str(self.state)).replace("@TOOL@", tool))
            p.chmod(0o755)
        self.reset()

    def reset(self) -> None:
        import shutil

        shutil.rmtree(self.state, ignore_errors=True)
        (self.state / "images").mkdir(parents=True)

    def mode(self, address: str, tool: str, mode: str) -> None:
        d = self.state / "mode" / address
        d.mkdir(parents=True, exist_ok=True)
        (d / tool).write_text(mode)

    def images(self, address: str, text: str) -> None:
        (self.state / "images" / f"{address}.json").write_text(text)

    def calls(self, tool: str | None = None) -> list[tuple[str, str, list[str]]]:
        """(host address, cwd, argv after the tool name) for each recorded call, in order."""
        log = self.state / "calls.log"
        out = []
        for line in log.read_text().splitlines() if log.exists() else []:
            key, name, cwd, *args = line.split("\t")
            if tool is None or name == tool:
                out.append((key, cwd, args))
        return out


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200 if self.path.startswith("/ok") else 500)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory):
    """Three sshd hosts whose sessions find the stand-in tools first on PATH (each host's
    bin_dir), the same tools first on this workstation's PATH, and a health HTTP server."""
    root = tmp_path_factory.mktemp("deploy")
    fakes = Fakes(root / "fakes")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", f"{fakes.bin}:{os.environ['PATH']}")  # workstation-side nixos-rebuild
        with testing.start_ssh_hosts(3, root / "sshd") as fleet:
            for host in fleet:  # first on PATH in that host's sessions
                for tool in TOOLS:
                    (host.bin_dir / tool).symlink_to(fakes.bin / tool)
            yield fleet, fakes, server.server_address[1], root
    server.shutdown()


def make_lab(env, tmp_path: Path, kinds: dict[str, dict], services: dict | None = None) -> Lab:
    fleet, fakes, port, _ = env
    fakes.reset()
    hosts = fleet.entries()
    for name, extra in kinds.items():
        hosts[name].update(extra)
    doc = {
        "lab": {"name": "t", "flake": "./flake", "journal": str(tmp_path / "journal.sqlite")},
        "hosts": {n: hosts[n] for n in kinds},
        "services": services or {},
    }
    return Lab.from_dict(doc, path=tmp_path / "lab.toml")


def web(host: str, port: int, path: str = "/ok") -> dict:
    """A service answering on the test health server (NixOS hosts also check NAME.service)."""
    return {"host": host, "port": port, "health": f"http://127.0.0.1:{port}{path}"}


NIX = {"os": "nixos"}


def test_argv_built_exactly_per_host_kind_and_journaled(env, tmp_path: Path) -> None:
    fleet, fakes, port, _ = env
    compose_dir = tmp_path / "compose"
    compose_dir.mkdir()
    lab = make_lab(
        env,
        tmp_path,
        {
            "host1": NIX,
            "host2": {"os": "nixos", "flake": "/srv/nixos"},
            "host3": {"os": "compose", "compose_dir": str(compose_dir)},
        },
        {"web1": web("host1", port), "web3": web("host3", port)},
    )
    fakes.images(
        fleet[2].address,
        '[{"ID":"sha256:aaa","ContainerName":"web3-1","Repository":"nginx","Tag":"1.25"}]',
    )
    result = deploy_plan(lab, on="all", action="switch", dry_run=False).execute(progress=False)
    assert result.statuses() == {"host1": "ok", "host2": "ok", "host3": "ok"}, result.frame()
    assert result.exit_code == 0

    a1, a2, a3 = (h.address for h in fleet)
    nix = {k: (cwd, argv) for k, cwd, argv in fakes.calls("nixos-rebuild")}
    assert nix[a1][1] == [
        "switch",
        "--flake",
        f"{tmp_path}/flake#host1",
        "--target-host",
        f"root@{a1}",
    ]  # from this workstation
    assert nix[a2][1] == ["switch", "--flake", "/srv/nixos#host2"]  # on the host itself
    docker = [(k, cwd, argv) for k, cwd, argv in fakes.calls("docker")]
    assert docker == [
        (a3, str(compose_dir), ["compose", "images", "--format", "json"]),
        (a3, str(compose_dir), ["compose", "pull"]),
        (a3, str(compose_dir), ["compose", "up", "-d"]),
    ]
    assert [argv for k, _, argv in fakes.calls("systemctl")] == [["is-active", "web1.service"]]

    steps = lab.journal.steps(run_id=result.run_id)
    run = lab.journal.runs("deploy")[0]
    assert run["status"] == "ok" and run["summary"]["hosts"] == result.statuses()
    h3 = steps[steps.host == "host3"]
    assert list(h3.name) == [
        "record: record running images (for rollback)",
        "deploy: pull images",
        "deploy: recreate containers",
        f"health: web3 tcp 127.0.0.1:{port}",
        f"health: web3 http http://127.0.0.1:{port}/ok",
        "result",
    ]
    assert '"ID":"sha256:aaa"' in h3.iloc[0].stdout
    assert h3.iloc[0].data["argv"] == ["docker", "compose", "images", "--format", "json"]
    assert all(d["duration"] >= 0 for d in h3.data.iloc[:3])
    assert h3.iloc[4].data["detail"] == "HTTP 200"
    assert steps[steps.host == "host1"].iloc[0].data["runs_on"] == "workstation"


def test_failed_health_rolls_back_that_host_only(env, tmp_path: Path) -> None:
    fleet, fakes, port, _ = env
    lab = make_lab(
        env,
        tmp_path,
        {"host1": NIX, "host2": NIX, "host3": NIX},
        {
            "a": web("host1", port),
            "b": web("host2", port, "/fail"),
            "c": web("host3", port),
        },
    )
    plan = deploy_plan(lab, action="switch", dry_run=False, health_within=2.0, health_interval=0.2)
    result = plan.execute(progress=False)
    assert result.statuses() == {"host1": "ok", "host2": "rolled_back", "host3": "ok"}
    assert result.exit_code == 1
    a2 = fleet[1].address
    rollbacks = [(k, argv) for k, _, argv in fakes.calls("nixos-rebuild") if "--rollback" in argv]
    assert rollbacks == [(a2, ["switch", "--rollback", "--target-host", f"root@{a2}"])]
    out = result.outcomes["host2"]
    assert out.rolled_back and "HTTP 500" in out.error
    assert out.health[-1].attempts >= 2  # retried before giving up

    steps = lab.journal.steps(run_id=result.run_id)
    h2 = steps[steps.host == "host2"]
    assert list(h2.status) == ["ok", "ok", "ok", "failed", "ok", "rolled_back"]
    assert h2.iloc[4]["name"] == "rollback: roll back: previous generation"
    assert lab.journal.runs("deploy")[0]["summary"]["rolled_back"] == ["host2"]
    assert lab.journal.runs("deploy")[0]["status"] == "failed"


def test_compose_rollback_retags_recorded_images(env, tmp_path: Path) -> None:
    fleet, fakes, port, _ = env
    d = tmp_path / "c"
    d.mkdir()
    lab = make_lab(
        env,
        tmp_path,
        {"host1": {"os": "compose", "compose_dir": str(d)}},
        {"app": web("host1", port, "/fail"), "db": {"host": "host1"}},
    )
    a1 = fleet[0].address
    fakes.images(
        a1,
        '{"ID":"sha256:old1","ContainerName":"app-1","Repository":"ghcr.io/x/app","Tag":"v1"}\n'
        '{"ID":"sha256:old2","ContainerName":"db-1","Repository":"postgres","Tag":"<none>"}\n',
    )
    plan = deploy_plan(
        lab, on="host1", action="switch", services="app", dry_run=False, health_within=0.1
    )
    result = plan.execute(progress=False)
    assert result.statuses() == {"host1": "rolled_back"}
    assert [argv for _, _, argv in fakes.calls("docker")] == [
        ["compose", "images", "--format", "json", "app"],
        ["compose", "pull", "app"],
        ["compose", "up", "-d", "app"],
        ["tag", "sha256:old1", "ghcr.io/x/app:v1"],
        ["compose", "up", "-d", "app"],
    ]


def test_compose_failed_up_brings_back_the_previous_images(env, tmp_path: Path) -> None:
    """`docker compose up -d` fails once (after the pull): the recorded images are re-tagged."""
    fleet, fakes, _, _ = env
    d = tmp_path / "c"
    d.mkdir()
    lab = make_lab(env, tmp_path, {"host1": {"os": "compose", "compose_dir": str(d)}})
    a1 = fleet[0].address
    fakes.images(a1, '[{"ID":"sha256:old","Repository":"app","Tag":"v1"}]')
    fakes.mode(a1, "docker", "fail-once-on up")
    result = deploy_plan(lab, action="update", dry_run=False).execute(progress=False)
    assert result.statuses() == {"host1": "rolled_back"}
    assert "failed once" in result.outcomes["host1"].error
    assert [argv for _, _, argv in fakes.calls("docker")][-2:] == [
        ["tag", "sha256:old", "app:v1"],
        ["compose", "up", "-d"],
    ]


def test_parallel_rollout_runs_hosts_at_once(env, tmp_path: Path) -> None:
    """Each stand-in waits at a barrier until all three hosts are inside it: only a parallel
    rollout can pass (a serial one fails at the barrier after 10 s)."""
    fleet, fakes, port, _ = env
    lab = make_lab(env, tmp_path, {"host1": NIX, "host2": NIX, "host3": NIX})
    for h in fleet:
        fakes.mode(h.address, "nixos-rebuild", "barrier 3")
    result = deploy_plan(lab, action="test", dry_run=False, parallel=3).execute(progress=False)
    assert result.statuses() == {"host1": "ok", "host2": "ok", "host3": "ok"}


def test_serial_batches_finish_before_the_next_starts(env, tmp_path: Path) -> None:
    fleet, fakes, _, _ = env
    lab = make_lab(env, tmp_path, {"host1": NIX, "host2": NIX, "host3": NIX})
    result = deploy_plan(lab, action="boot", dry_run=False, serial=2).execute(progress=False)
    assert result.ok
    steps = lab.journal.steps(run_id=result.run_id)
    first = steps[steps.host.isin(["host1", "host2"]) & (steps.name == "result")]
    third = steps[(steps.host == "host3") & steps.name.str.startswith("deploy")]
    assert third.started.iloc[0] >= first.finished.max()
    assert [k for k, _, _ in fakes.calls("nixos-rebuild")][-1] == fleet[2].address


@pytest.mark.parametrize(
    ("max_fail", "failing", "expected"),
    [
        (0, [0], ["failed", "not_started", "not_started"]),
        ("50%", [0, 1], ["failed", "failed", "not_started"]),
        (None, [0, 1], ["failed", "failed", "ok"]),
    ],
)
def test_max_fail_stops_starting_new_hosts(env, tmp_path, max_fail, failing, expected) -> None:
    fleet, fakes, _, _ = env
    lab = make_lab(env, tmp_path, {"host1": NIX, "host2": NIX, "host3": NIX})
    for i in failing:
        fakes.mode(fleet[i].address, "nixos-rebuild", "fail")
    plan = deploy_plan(lab, action="switch", dry_run=False, parallel=1, max_fail=max_fail)
    result = plan.execute(progress=False)
    assert list(result.statuses().values()) == expected
    started = {k for k, _, _ in fakes.calls("nixos-rebuild")}
    assert started == {fleet[i].address for i, s in enumerate(expected) if s != "not_started"}
    assert "simulated failure" in result.outcomes["host1"].error


def test_host_unreachable_mid_rollout(env, tmp_path: Path) -> None:
    """host2's docker hangs; the test kills host2's sshd (and its sessions) while it does."""
    fleet, fakes, port, _ = env
    dirs = {}
    for i in (1, 2, 3):
        dirs[i] = tmp_path / f"c{i}"
        dirs[i].mkdir()
    kinds = {f"host{i}": {"os": "compose", "compose_dir": str(dirs[i])} for i in (1, 2, 3)}
    lab = make_lab(env, tmp_path, kinds, {"w": web("host1", port)})
    fakes.mode(fleet[1].address, "docker", "hang")

    def kill_when_hanging() -> None:
        marker = fakes.state / f"hanging.{fleet[1].address}"
        deadline = time.monotonic() + 20
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        fleet[1].kill()

    killer = threading.Thread(target=kill_when_hanging)
    killer.start()
    try:
        result = deploy_plan(lab, action="update", dry_run=False).execute(progress=False)
    finally:
        killer.join()
        fleet[1].start()
    assert result.statuses() == {"host1": "ok", "host2": "unreachable", "host3": "ok"}
    assert result.exit_code == 1
    run = lab.journal.runs("deploy")[0]
    assert run["summary"]["counts"] == {"ok": 2, "unreachable": 1}


def test_step_timeout_is_reported_per_host(env, tmp_path: Path) -> None:
    fleet, fakes, _, _ = env
    lab = make_lab(env, tmp_path, {"host1": {"os": "nixos", "flake": "/srv/f"}, "host2": NIX})
    fakes.mode(fleet[0].address, "nixos-rebuild", "hang")
    result = deploy_plan(lab, action="switch", dry_run=False, timeout=1.5).execute(progress=False)
    assert result.statuses() == {"host1": "timeout", "host2": "ok"}


def test_systemd_restart_of_selected_units(env, tmp_path: Path) -> None:
    fleet, fakes, port, _ = env
    lab = make_lab(
        env,
        tmp_path,
        {"host1": {"os": "debian"}},
        {
            "a": {"host": "host1", "unit": "a.service"},
            "b": {"host": "host1"},
            "c": {"host": "host1"},
        },
    )
    result = deploy_plan(lab, action="restart", services="a,b", dry_run=False).execute(
        progress=False
    )
    assert result.ok
    assert [argv for _, _, argv in fakes.calls("systemctl")] == [
        ["restart", "a.service", "b.service"],
        ["is-active", "a.service"],
        ["is-active", "b.service"],
    ]


def write_toml(path: Path, doc: dict) -> Path:
    """lab.toml from a dict of tables of plain values (JSON scalars and lists are valid TOML)."""
    import json

    lines = []
    for section, tables in doc.items():
        if section == "lab":
            lines += ["[lab]", *(f"{k} = {json.dumps(v)}" for k, v in tables.items())]
            continue
        for name, table in tables.items():
            lines += [f"[{section}.{name}]", *(f"{k} = {json.dumps(v)}" for k, v in table.items())]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_cli_deploy_yes_exit_codes_and_journal(env, tmp_path: Path, capsys) -> None:
    import json

    from homelab_kit.cli import main

    fleet, fakes, port, _ = env
    fakes.reset()
    hosts = {h.name: {**h.entry(), "os": "nixos"} for h in fleet}
    doc = {
        "lab": {"name": "cli", "flake": "."},
        "hosts": hosts,
        "services": {"a": web("host1", port), "b": web("host3", port, "/fail")},
    }
    lab_toml = write_toml(tmp_path / "lab.toml", doc)
    base = ["--lab", str(lab_toml), "deploy", "--action", "switch", "--no-progress"]
    assert main([*base, "--on", "host1,host2", "--yes", "--parallel", "2"]) == 0
    assert "ok" in capsys.readouterr().out
    code = main(
        [*base, "--on", "all", "--yes", "--serial", "1", "--health-timeout", "0.5", "--json"]
    )
    assert code == 1  # host3 was rolled back
    out = json.loads(capsys.readouterr().out)
    assert [h["status"] for h in out["hosts"]] == ["ok", "ok", "rolled_back"]
    assert out["hosts"][2]["health"][-1]["detail"] == "HTTP 500"
    assert main(["--lab", str(lab_toml), "journal", "--kind", "deploy", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in runs] == ["failed", "ok"]
    assert runs[0]["parameters"]["serial"] == 1 and runs[1]["parameters"]["parallel"] == 2
    assert runs[0]["summary"]["hosts"] == {"host1": "ok", "host2": "ok", "host3": "rolled_back"}


def test_lab_deploy_surface(env, tmp_path: Path) -> None:
    """`lab.deploy(...)` returns the plan (a dry run by default); `.execute()` rolls it out."""
    fleet, fakes, _, _ = env
    lab = make_lab(env, tmp_path, {"host1": NIX})
    dry = lab.deploy(on="@nixos", action="switch")
    assert dry.dry_run and dry.execute().statuses() == {"host1": "planned"}
    assert fakes.calls() == []
    live = lab.deploy(on="@nixos", action="switch", dry_run=False)
    assert live.execute(progress=False).statuses() == {"host1": "ok"}
    assert len(fakes.calls("nixos-rebuild")) == 1
