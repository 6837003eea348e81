"""Plans as data and the one place they touch hosts, behind the safety guard.

Entry points: `plan.Step`, `plan.Plan`, `plan.execute`; `safety.ensure_safe_target` and the only
builders of destructive commands (`chown_recursive`, `rm_recursive`, `rsync_mirror`, ...).
"""
