"""Progress bars: drawn for people, silent when the CLI writes to a log (timers, cron, pipes)."""

from __future__ import annotations

import io

from homelab_kit.progress import NO_PROGRESS_ENV, progress_bar


def test_bar_draws_unless_quiet(monkeypatch) -> None:
    monkeypatch.delenv(NO_PROGRESS_ENV, raising=False)
    out = io.StringIO()
    for _ in progress_bar(range(3), file=out, desc="work"):
        pass
    assert "work" in out.getvalue()
    monkeypatch.setenv(NO_PROGRESS_ENV, "1")
    quiet = io.StringIO()
    for _ in progress_bar(range(3), file=quiet, desc="work"):
        pass
    assert quiet.getvalue() == ""
    assert progress_bar(range(3), enabled=False, file=out).disable


def test_cli_is_quiet_in_logs_and_leaves_the_environment_alone(
    tmp_path, capsys, monkeypatch
) -> None:
    import os

    from homelab_kit.cli import main

    monkeypatch.delenv(NO_PROGRESS_ENV, raising=False)
    lab = tmp_path / "lab.toml"
    lab.write_text('[lab]\nname = "t"\n[hosts.a]\ntransport = "local"\n')
    assert main(["--lab", str(lab), "run", "--", "true"]) == 0
    err = capsys.readouterr().err
    assert "%|" not in err and "host" not in err
    assert NO_PROGRESS_ENV not in os.environ
