"""Deploy plans are pure data: exact argv per host kind, rollbacks, notes — and nothing connects.

Health checks are exercised here with the real LocalRunner (real curl, real TCP connects to a
socket the test opens late), the rollout policy helpers with plain values.
"""

from __future__ import annotations

import http.server
import json
import shlex
import socket
import threading
import time
from pathlib import Path

import pytest

from homelab_kit.cli import main
from homelab_kit.deploy.health import evaluate, http_check, run_checks, tcp_check
from homelab_kit.deploy.planner import deploy_plan
from homelab_kit.deploy.rollout import batches, parse_max_fail
from homelab_kit.deploy.steps import nixos_rebuild_argv, parse_compose_images
from homelab_kit.errors import InventoryError, PlanError
from homelab_kit.lab.model import Lab
from homelab_kit.transport.runner import LocalRunner, Result

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


def lab_of(tmp_path: Path, lab: dict | None = None, **hosts: dict) -> Lab:
    doc = {
        "lab": {"name": "t", **(lab or {})},
        "hosts": {n: {"address": f"10.0.0.{i}", **h} for i, (n, h) in enumerate(hosts.items(), 2)},
        "services": {
            "web": {"host": next(iter(hosts)), "port": 8080, "health": "http://127.0.0.1:8080/"},
        },
    }
    return Lab.from_dict(doc, path=tmp_path / "lab.toml")


def only_step(plan, host: str):
    (hd,) = [h for h in plan.hosts if h.host == host]
    return hd


def test_nixos_from_the_workstation_with_build_host_and_remote_sudo(tmp_path: Path) -> None:
    lab = lab_of(
        tmp_path,
        {"flake": "./nixos", "build_host": "builder"},
        pc={"os": "nixos", "user": "alice", "port": 2222, "host_key": KEY},
        builder={"os": "nixos", "user": "nix", "flake": "#big-builder"},
    )
    plan = deploy_plan(lab, on="all", action="switch")
    pc, builder = only_step(plan, "pc"), only_step(plan, "builder")
    flake = f"{tmp_path}/nixos"
    assert pc.runs_on == "workstation"
    assert pc.steps[0].argv == (
        "nixos-rebuild", "switch", "--flake", f"{flake}#pc", "--target-host", "alice@10.0.0.2",
        "--build-host", "nix@10.0.0.3", "--use-remote-sudo",
    )  # fmt: skip
    opts = pc.steps[0].env["NIX_SSHOPTS"]
    assert "-p 2222" in opts and "StrictHostKeyChecking=yes" in opts
    assert "UserKnownHostsFile=" in opts and "-i" not in opts.split()
    assert pc.rollback[0].argv == (
        "nixos-rebuild", "switch", "--rollback", "--target-host", "alice@10.0.0.2",
        "--build-host", "nix@10.0.0.3", "--use-remote-sudo",
    )  # fmt: skip
    assert builder.steps[0].argv[2:4] == ("--flake", f"{flake}#big-builder")
    assert [c.kind for c in pc.checks] == ["unit", "tcp", "http"]
    assert plan.dry_run and "NIX_SSHOPTS" in " ".join(plan.notes)


def test_nixos_on_the_host_itself(tmp_path: Path) -> None:
    lab = lab_of(
        tmp_path,
        {"flake": "github:me/cfg"},
        srv={"os": "nixos", "user": "admin", "flake": "/etc/nixos"},
        box={"os": "nixos", "transport": "local"},
    )
    srv = only_step(deploy_plan(lab, on="srv", action="test"), "srv")
    assert srv.runs_on == "host" and srv.steps[0].sudo
    assert srv.steps[0].argv == ("nixos-rebuild", "test", "--flake", "/etc/nixos#srv")
    rollback = srv.rollback[0].argv
    assert rollback == ("/nix/var/nix/profiles/system/bin/switch-to-configuration", "test")
    box = only_step(deploy_plan(lab, on="box", action="boot"), "box")
    assert box.steps[0].argv == ("nixos-rebuild", "boot", "--flake", "github:me/cfg#box")
    assert box.runs_on == "host" and not box.checks and not box.rollback
    no_flake = lab_of(tmp_path, None, n={"os": "nixos"})
    step = only_step(deploy_plan(no_flake, action="dry-activate"), "n").steps[0]
    assert step.argv == ("nixos-rebuild", "dry-activate", "--flake", "/etc/nixos#n")


def test_hostile_values_stay_single_arguments() -> None:
    argv = nixos_rebuild_argv("switch", flake="/x/$(id);rm -rf /#h", target="u@h; touch /tmp/p")
    assert argv == (
        "nixos-rebuild", "switch", "--flake", "/x/$(id);rm -rf /#h", "--target-host",
        "u@h; touch /tmp/p",
    )  # fmt: skip


def test_compose_and_systemd_plans(tmp_path: Path) -> None:
    doc = {
        "lab": {"name": "t"},
        "hosts": {
            "nas": {"address": "10.0.0.5", "os": "compose", "compose_dir": "/srv/app stack"},
            "old": {"address": "10.0.0.6", "os": "compose"},
            "deb": {"address": "10.0.0.7", "os": "debian"},
        },
        "services": {
            "app": {"host": "nas", "port": 80},
            "db": {"host": "nas"},
            "api": {"host": "deb", "unit": "api.service"},
            "web": {"host": "deb"},
        },
    }
    lab = Lab.from_dict(doc, path=tmp_path / "lab.toml")
    plan = deploy_plan(lab, action="switch", services="app,api")
    nas, old, deb = plan.hosts
    assert nas.record.argv == ("docker", "compose", "images", "--format", "json", "app")
    assert [s.argv for s in nas.steps] == [
        ("docker", "compose", "pull", "app"),
        ("docker", "compose", "up", "-d", "app"),
    ]
    assert {s.cwd for s in nas.steps} == {"/srv/app stack"}
    assert [c.kind for c in nas.checks] == ["tcp"]  # no unit check on compose hosts
    assert old.skipped and deb.skipped
    assert "nothing to run" in " ".join(plan.notes) or old.note
    restart = deploy_plan(lab, action="restart")
    assert restart.hosts[2].steps[0].argv == ("systemctl", "restart", "api.service", "web.service")
    assert restart.hosts[0].steps[0].argv == ("docker", "compose", "restart")
    check = deploy_plan(lab, on="nas", action="dry-activate").hosts[0]
    assert [s.argv for s in check.steps] == [("docker", "compose", "config", "--quiet")]
    frame = plan.to_frame()
    assert list(frame.columns) == ["host", "kind", "runs_on", "phase", "title", "command"]
    assert "rollback if unhealthy" in set(frame.phase)
    json.dumps(plan.to_dict())
    assert "dry run" in plan._repr_html_()


def test_bad_input_is_refused(tmp_path: Path) -> None:
    lab = lab_of(tmp_path, None, a={"os": "nixos"})
    with pytest.raises(PlanError, match="unknown action"):
        deploy_plan(lab, action="swtich")
    with pytest.raises(PlanError, match="not both"):
        deploy_plan(lab, parallel=2, serial=1)
    with pytest.raises(PlanError, match="max_fail"):
        deploy_plan(lab, max_fail="lots")
    with pytest.raises(InventoryError, match="did you mean"):
        deploy_plan(lab, services="wbe")


def test_dry_run_never_connects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lab = lab_of(tmp_path, {"flake": "."}, a={"os": "nixos"}, b={"os": "compose"})
    monkeypatch.setattr(Lab, "runner", lambda self, host: pytest.fail(f"connected to {host}"))
    seen: list[tuple[str, str]] = []
    result = deploy_plan(lab, action="switch").execute(on_event=lambda h, s, d: seen.append((h, s)))
    assert result.dry_run and result.statuses() == {"a": "planned", "b": "planned"}
    assert result.exit_code == 0 and seen == [("a", "planned"), ("b", "planned")]
    assert not lab.journal_path.exists()  # nothing recorded either


def test_cli_without_yes_only_shows_the_plan(tmp_path: Path, capsys, monkeypatch) -> None:
    (tmp_path / "lab.toml").write_text(
        '[lab]\nname = "t"\nflake = "."\n[hosts.a]\naddress = "10.9.9.9"\nos = "nixos"\n'
    )
    monkeypatch.setattr(Lab, "runner", lambda self, host: pytest.fail(f"connected to {host}"))
    assert main(["--lab", str(tmp_path / "lab.toml"), "deploy", "--on", "a"]) == 0
    out = capsys.readouterr().out
    flake = shlex.quote(f"{tmp_path}#a")
    assert f"nixos-rebuild switch --flake {flake} --target-host root@10.9.9.9" in out
    assert "re-run with --yes" in out
    code = main(["--lab", str(tmp_path / "lab.toml"), "deploy", "--yes", "--dry-run", "--json"])
    assert code == 0 and json.loads(capsys.readouterr().out)["dry_run"] is True
    with pytest.raises(SystemExit) as bad:  # bad input: a one-line usage error, exit 2
        main(["--lab", str(tmp_path / "lab.toml"), "deploy", "--action", "nope"])
    assert bad.value.code == 2
    assert "unknown action" in capsys.readouterr().err


def test_parse_compose_images_both_formats() -> None:
    array = '[{"ID":"sha256:1","ContainerName":"a-1","Repository":"nginx","Tag":"1.25"}]'
    lines = '{"ID":"sha256:2","Repository":"x","Tag":""}\n{"ID":"sha256:3","Repository":"<none>"}\n'
    assert parse_compose_images(array) == [
        {"container": "a-1", "repository": "nginx", "tag": "1.25", "id": "sha256:1"}
    ]
    assert [i["tag"] for i in parse_compose_images(lines)] == ["latest"]
    assert parse_compose_images("") == []


def test_rollout_policy_helpers() -> None:
    assert parse_max_fail(None, 10) is None
    assert parse_max_fail(2, 10) == 2 and parse_max_fail("2", 10) == 2
    assert parse_max_fail("25%", 10) == 2 and parse_max_fail("0%", 10) == 0
    with pytest.raises(PlanError):
        parse_max_fail("150%", 10)
    assert batches(["a", "b", "c"], 2) == [["a", "b"], ["c"]]
    assert batches(["a", "b", "c"], None) == [["a", "b", "c"]]


def test_health_evaluation_is_pure() -> None:
    def res(code: int, out: str = "") -> Result:
        return Result("h", ("x",), code, out, "", 0.0)

    http = http_check("s", "http://127.0.0.1:1/")
    assert evaluate(http, res(0, "204\n")) == (True, "HTTP 204")
    assert evaluate(http, res(0, "503\n")) == (False, "HTTP 503")
    assert evaluate(http, res(7, "000"))[0] is False
    assert evaluate(tcp_check("s", 22), res(1))[0] is False


class Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.send_response(204 if self.path == "/alive" else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_health_checks_retry_until_the_service_answers() -> None:
    """Real curl and TCP connects through the LocalRunner; the port opens only after a while."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    holder: list[socket.socket] = []

    def late_listen() -> None:
        time.sleep(0.5)
        lsock = socket.socket()
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind(("127.0.0.1", port))
        lsock.listen()
        holder.append(lsock)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Thread(target=late_listen).start()
    try:
        tcp, web = run_checks(
            LocalRunner(),
            [tcp_check("late", port), http_check("web", f"{url}/alive")],
            within=10,
            interval=0.2,
        )
        (bad,) = run_checks(LocalRunner(), [http_check("web", f"{url}/")], within=0)
    finally:
        server.shutdown()
        for s in holder:
            s.close()
    assert tcp.ok and tcp.attempts >= 2
    assert web.ok and web.detail == "HTTP 204" and web.attempts == 1
    assert not bad.ok and bad.detail == "HTTP 503" and bad.attempts == 1
