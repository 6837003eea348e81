"""Start and stop a JupyterLab server on loopback (for the browser tests and headless checks).

A free port, a random token, private settings/workspace folders (news and update checks off, so no
toast covers the notebook), and HOMELAB_LAB passed to the kernels.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import HomelabError

SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class LabServer:
    """A running JupyterLab; `url(path)` gives an address with the token."""

    process: subprocess.Popen
    port: int
    token: str
    root: Path
    log: Path

    def url(self, path: str = "lab") -> str:
        sep = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{self.port}/{path}{sep}token={self.token}"

    def api(self, path: str, method: str = "GET") -> Any:
        """Call the server's REST API (JSON in, JSON out; None for an empty answer)."""
        req = urllib.request.Request(self.url(f"api/{path}"), method=method)
        with urllib.request.urlopen(req, timeout=30) as r:
            body = r.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> int:
        """End every session and its kernel (between notebooks: two cores are plenty only for one)."""
        sessions = self.api("sessions")
        for s in sessions:
            self.api(f"sessions/{s['id']}", method="DELETE")
        return len(sessions)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_lab_server(
    root: Path,
    state: Path,
    env: dict[str, str] | None = None,
    timeout: float = 90,
    attempts: int = 3,
) -> LabServer:
    """Start `jupyter lab` from this Python's environment serving `root`; wait until it answers.

    Private config, data, settings, workspace and runtime folders under `state`: the user's own
    Jupyter config (a password, another python3 kernelspec) cannot change what is tested. A port
    taken between choosing and binding it is retried on another port."""
    state.mkdir(parents=True, exist_ok=True)
    settings = state / "settings"
    for name, value in SETTINGS.items():
        f = settings / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(value))
    full_env = {
        **os.environ,
        **(env or {}),
        "JUPYTER_CONFIG_DIR": str(state / "config"),
        "JUPYTER_DATA_DIR": str(state / "data"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
    }
    for attempt in range(1, attempts + 1):
        log = state / f"jupyter-{attempt}.log"
        server = _launch(root, full_env, log)
        try:
            _wait_ready(server, timeout)
            return server
        except _ExitedEarly:
            if attempt == attempts:
                raise HomelabError(
                    f"jupyter lab exited with {server.process.returncode}; see {log}"
                ) from None
    raise AssertionError("unreachable")


class _ExitedEarly(Exception):
    pass


def _launch(root: Path, env: dict[str, str], log: Path) -> LabServer:
    port, token = free_port(), secrets.token_hex(16)
    argv = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: tests drive lab commands
    ]
    if os.geteuid() == 0:
        argv.append("--allow-root")
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root)
    return LabServer(proc, port, token, root, log)


def _wait_ready(server: LabServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise _ExitedEarly()
        try:
            with urllib.request.urlopen(server.url("api/status"), timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    server.stop()
    raise HomelabError(f"jupyter lab did not answer within {timeout:g}s; see {server.log}")
