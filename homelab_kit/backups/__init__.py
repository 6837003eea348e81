"""Backups with restic: the binary, its JSON, snapshot analysis, freshness, coverage, retention.

Entry points: `restic.Restic` (argv builders, secrets in env only), `restic_json` (tolerant
parsers), `analysis.snapshots/snapshot_stats/growth/service_sizes`, `coverage.freshness/coverage`,
`retention.plan` (restic's forget policy in pure Python), `listing` (cached `restic ls`).
"""
