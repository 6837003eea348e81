"""Deploys across hosts: plans, rollout in parallel or serial batches, health checks, rollback.

Entry points: `planner.deploy_plan(lab, on=..., action=...)` → `DeployPlan.execute()`
(`rollout.rollout`, one host at a time in `engine`), `result.DeployResult`, `history.deploys_frame`.
"""
