"""Unattended watch: one `check` for timers, notifications that reach a person, heartbeats, timers.

Entry points: `run.check(lab)` (also `lab.check()` and `homelab-kit check`) → a `CheckRun` with its
`digest.Digest`; `checks.run_checks` gathers the rows, `rules` judges them (pure), `changes.plan`
decides what is news, `notify` sends through apprise, `heartbeat` pings the dead-man switch,
`schedule` writes systemd units, a NixOS module or crontab lines, `history.check_history` charts.
"""
