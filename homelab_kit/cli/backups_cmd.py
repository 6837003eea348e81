"""`homelab-kit backups snapshots|freshness|coverage|growth|forget-plan`.

freshness and coverage exit 1 when a backup is overdue or a state dir is not covered, so a
systemd timer can alert; `--prometheus FILE` writes node_exporter textfile metrics as well.
forget-plan lists snapshots through restic and runs our retention simulation (no pandas).
"""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import HomelabError
from ..lab.schema import KEEP_COUNTS, KEEP_WITHIN
from .argtypes import fraction, keep_count, now_option
from .output import human_bytes, human_seconds, table, to_json


def _rows(df: Any) -> list[dict[str, Any]]:
    out = []
    for r in df.to_dict("records"):
        for k, v in r.items():
            if hasattr(v, "total_seconds"):
                r[k] = None if v != v else round(v.total_seconds())
            elif hasattr(v, "isoformat"):
                r[k] = None if v != v else v.isoformat()
            elif isinstance(v, float) and v != v:
                r[k] = None
        out.append(r)
    return out


SIZE_COLUMNS = (
    "size",
    "previous_size",
    "data_added",
    "total_size",
    "added",
    "restore_size",
    "delta",
)
AGE_COLUMNS = ("age", "max_age")


def _emit(
    ctx: Any, args: argparse.Namespace, rows: list[dict[str, Any]], columns: list[str]
) -> None:
    if args.json:
        ctx.print(to_json(rows))
        return
    shown = [
        {
            k: human_bytes(v) if k in SIZE_COLUMNS else human_seconds(v) if k in AGE_COLUMNS else v
            for k, v in r.items()
        }
        for r in rows
    ]
    ctx.print(table(shown, columns))


def _select(lab: Any, selector: str | None) -> str:
    sel = selector or "all"
    if not lab.backups.select(sel):
        raise HomelabError(f'--backup: no backup matches "{sel}"; known: {", ".join(lab.backups)}')
    return sel


def cmd_snapshots(args: argparse.Namespace, ctx: Any) -> int:
    from ..backups import analysis as bk

    lab = ctx.lab()
    rows = []
    for b in lab.backups.select(_select(lab, args.backup)).values():
        for s in bk.snapshot_records(lab, b):
            rows.append(
                {
                    "backup": b.name,
                    "id": s["id"] if args.json else s["short_id"],
                    "time": s["time"].isoformat(),
                    "host": s["host"],
                    "paths": list(s["paths"]),
                    "tags": list(s["tags"]),
                    "data_added": s["data_added"],
                }
            )
    _emit(ctx, args, rows, ["backup", "id", "time", "host", "tags", "data_added", "paths"])
    return 0


def _prom(args: argparse.Namespace, **kw: Any) -> None:
    if args.prometheus:
        from ..backups.coverage import prometheus_text, write_textfile

        write_textfile(args.prometheus, prometheus_text(**kw))


def cmd_freshness(args: argparse.Namespace, ctx: Any) -> int:
    from ..backups.coverage import freshness

    lab = ctx.lab()
    df = freshness(lab, now_option(args.now), _select(lab, args.backup))
    _prom(args, fresh=df)
    _emit(
        ctx,
        args,
        _rows(df),
        ["backup", "host", "snapshots", "last_snapshot", "age", "max_age", "status"],
    )
    return 0 if (df["status"] == "ok").all() else 1


def cmd_coverage(args: argparse.Namespace, ctx: Any) -> int:
    from ..backups.coverage import PROBLEM_STATUSES, coverage, freshness

    lab = ctx.lab()
    sel, now = _select(lab, args.backup), now_option(args.now)
    from ..backups import analysis as bk

    snaps = {b.name: bk.snapshot_records(lab, b) for b in lab.backups.select(sel).values()}
    df = coverage(lab, now, sel, drop=args.drop, snaps=snaps)
    _prom(args, fresh=freshness(lab, now, sel, snaps=snaps), cover=df)
    _emit(
        ctx,
        args,
        _rows(df),
        ["backup", "service", "path", "status", "size", "previous_size", "message"],
    )
    return 1 if df["status"].isin(PROBLEM_STATUSES).any() else 0


def cmd_growth(args: argparse.Namespace, ctx: Any) -> int:
    from ..backups import analysis as bk

    lab = ctx.lab()
    rows = []
    for b in lab.backups.select(_select(lab, args.backup)).values():
        g = bk.growth(bk.snapshot_stats(lab, b, progress=not args.json))
        rows += _rows(g)
    _emit(ctx, args, rows, ["backup", "host", "time", "id", "restore_size", "files", "delta"])
    return 0


def cmd_forget_plan(args: argparse.Namespace, ctx: Any) -> int:
    from ..backups.restic import Restic
    from ..backups.retention import Policy, group_key, plan

    lab = ctx.lab()
    keep = {
        k: getattr(args, f"keep_{k}")
        for k in (*KEEP_COUNTS, *KEEP_WITHIN)
        if getattr(args, f"keep_{k}")
    }
    if args.keep_tag:
        keep["tags"] = args.keep_tag
    rows: list[dict[str, Any]] = []
    for b in lab.backups.select(_select(lab, args.backup)).values():
        policy_src = keep or dict(b.keep)
        if not policy_src:
            raise HomelabError(
                f"backups.{b.name}: no keep policy in lab.toml; give --keep-daily N etc."
            )
        try:
            policy = Policy.from_keep(policy_src)
            group_key({}, args.group_by)
        except ValueError as exc:
            raise HomelabError(f"forget-plan: {exc}") from None
        r = Restic.for_backup(b, lab)
        for row in plan(
            r.snapshots(),
            policy,
            now=now_option(args.now),
            group_by=args.group_by,
            version=r.version,
        ):
            row["backup"] = b.name
            rows.append(row)
    if args.json:
        ctx.print(to_json([{**r, "time": r["time"].isoformat()} for r in rows]))
    else:
        shown = [
            {
                **r,
                "id": r["short_id"],
                "verdict": "keep" if r["keep"] else "remove",
                "reasons": "; ".join(r["reasons"]),
                "time": r["time"].strftime("%Y-%m-%d %H:%M"),
            }
            for r in rows
        ]
        ctx.print(table(shown, ["backup", "group", "id", "time", "verdict", "reasons"]))
        ctx.print(
            f"{sum(r['keep'] for r in rows)} kept, {sum(not r['keep'] for r in rows)} to remove"
        )
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "backups", help="restic snapshots, freshness, coverage, growth, retention preview"
    )
    s = p.add_subparsers(dest="backups_command", metavar="SUBCOMMAND")
    s.required = True

    def common(name: str, help_: str, func: Any) -> argparse.ArgumentParser:
        q = s.add_parser(name, help=help_)
        q.add_argument("--backup", metavar="NAME", help="backup name or selector (default: all)")
        q.add_argument("--json", action="store_true", help="machine-readable output")
        q.add_argument("--now", metavar="ISO", help="evaluate as of this time (default: now)")
        q.set_defaults(func=func)
        return q

    common("snapshots", "list snapshots of each backup", cmd_snapshots)
    f = common(
        "freshness", "age of the newest snapshot vs max_age (exit 1 when overdue)", cmd_freshness
    )
    f.add_argument("--prometheus", metavar="FILE", help="also write node_exporter textfile metrics")
    c = common(
        "coverage", "are all state dirs in the newest snapshot? (exit 1 when not)", cmd_coverage
    )
    c.add_argument("--prometheus", metavar="FILE", help="also write node_exporter textfile metrics")
    c.add_argument(
        "--drop",
        type=fraction,
        default=0.5,
        help="size drop that counts as a finding, 0-1 (default 0.5)",
    )
    common("growth", "restore size per snapshot (stats cached in the journal)", cmd_growth)
    fp = common(
        "forget-plan",
        "what `restic forget` would keep/remove, with reasons (dry, pure)",
        cmd_forget_plan,
    )
    for k in KEEP_COUNTS:
        fp.add_argument(
            f"--keep-{k}",
            type=keep_count,
            metavar="N",
            help="-1 = unlimited" if k == "last" else None,
        )
    for k in KEEP_WITHIN:
        fp.add_argument(
            f"--keep-{k.replace('_', '-')}",
            metavar="DURATION",
            help='e.g. "30d", "1y6m" (m = months)' if k == "within" else None,
        )
    fp.add_argument(
        "--keep-tag",
        action="append",
        metavar="TAGS",
        help="keep snapshots with these tags (a,b = both)",
    )
    fp.add_argument(
        "--group-by", default="host,paths", help="host, paths, tags (default host,paths)"
    )
