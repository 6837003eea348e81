"""Migrations from a docker compose service to its native service, as reviewed plans.

Entry points: `planner.plan_migration(lab, service)`, `planner.migratable_services`; `steps`
builds each step (preflight, stop, snapshot, copy, verify, chown, start).
"""
