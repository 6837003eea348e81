"""The deploy runbook runs headless (papermill) and its panel gates Deploy behind plan + confirmation.

The lab mirrors the demo's shape (two NixOS hosts and a compose NAS, local transport). `nixos-rebuild`,
`docker` and `systemctl` are the recording stand-ins of test_deploy_rollout, first on PATH: a dry
run must not call them at all; the panel's live deploy calls them for real through the LocalRunner.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from homelab_kit.deploy.history import deploys_frame
from homelab_kit.lab.model import load_lab
from homelab_kit.workbench.deploy_panel import DeployPanel
from homelab_kit.workbench.plots.deploys import deploys_chart
from tests.test_deploy_rollout import Fakes

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "50_deploy.ipynb"
LAB = """
[lab]
name = "demo-like"
[hosts.n100]
os = "nixos"
transport = "local"
[hosts.desk]
os = "nixos"
user = "alice"
transport = "local"
[hosts.nas]
os = "compose"
transport = "local"
compose_dir = "nas/compose"
[services.vaultwarden]
host = "n100"
unit = "vaultwarden.service"
"""


@pytest.fixture
def lab_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Fakes]:
    fakes = Fakes(tmp_path / "fakes")
    monkeypatch.setenv("PATH", f"{fakes.bin}:{os.environ['PATH']}")
    (tmp_path / "nas" / "compose").mkdir(parents=True)
    path = tmp_path / "lab.toml"
    path.write_text(LAB)
    return path, fakes


def test_notebook_is_committed_clean() -> None:
    nb = json.loads(NOTEBOOK.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert "parameters" in code[0]["metadata"]["tags"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code)
    assert not any("def " in "".join(c["source"]) for c in code)


@pytest.mark.timeout(180)
def test_notebook_dry_run_touches_nothing(lab_path, tmp_path: Path) -> None:
    import papermill

    path, fakes = lab_path
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(out),
        parameters={"lab_path": str(path), "on": "all", "action": "switch"},
        progress_bar=False,
        kernel_name="python3",
    )
    text = out.read_text()
    assert "nixos-rebuild switch --flake" in text and "/etc/nixos#n100" in text
    assert "planned" in text and "image/png" in text
    assert fakes.calls() == []  # nothing ran
    assert load_lab(path).journal.runs("deploy") == []


def test_panel_gates_deploy_and_shows_each_host(lab_path) -> None:
    path, fakes = lab_path
    lab = load_lab(path)
    panel = DeployPanel(lab, on="n100,nas", action="switch", dry_run=False, health_within=1)
    assert panel.deploy_button.disabled
    panel.confirm.value = True
    assert panel.deploy_button.disabled  # ticked, but no plan shown yet
    panel.plan_button.click()
    assert panel.deploy_button.disabled and "nothing executed" in panel.status.value
    panel.confirm.value = True
    assert not panel.deploy_button.disabled
    panel.action.value = "test"  # a different plan than the one reviewed
    assert panel.deploy_button.disabled and not panel.confirm.value
    panel.plan_button.click()
    panel.confirm.value = True
    assert fakes.calls() == []
    panel.deploy_button.click()
    assert panel.result.statuses() == {"n100": "ok", "nas": "ok"}
    assert panel.progress.value == 2 and panel.progress.bar_style == "success"
    assert "✔ ok" in panel.host_table.value and panel.deploy_button.disabled
    assert [a for _, _, a in fakes.calls("nixos-rebuild")] == [
        ["test", "--flake", "/etc/nixos#n100"]
    ]
    assert [a[:2] for _, _, a in fakes.calls("docker")] == [
        ["compose", "images"],
        ["compose", "pull"],
        ["compose", "up"],
    ]
    history = deploys_frame(lab.journal)
    assert list(history[["action", "status", "hosts", "ok"]].iloc[0]) == ["test", "ok", 2, 2]
    assert deploys_chart(history).axes[0].get_title().startswith("Recent deploys")
