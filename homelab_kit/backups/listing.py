"""Snapshot listings: `restic ls --json` stream-parsed into frames, cached as parquet per snapshot.

A snapshot never changes, so its listing is asked of restic once and kept under
`<lab.cache_dir>/listings/<snapshot id>.{nodes,dirs}.parquet`. The dirs frame holds every directory
with the total size and file count beneath it, computed while streaming (no second pass over 200k
nodes), so per-directory and per-service questions are dictionary look-ups afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from .restic import Restic

NODE_COLUMNS = ("path", "type", "size", "mtime", "mode", "uid", "gid")


def parent_of(path: str) -> str:
    cut = path.rfind("/")
    return path[:cut] if cut > 0 else "/"


def parse_nodes(nodes: Iterable[Mapping[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Node dicts (restic_json.iter_ls) → (nodes frame, dirs frame with cumulative size/files)."""
    import pandas as pd

    paths: list[str] = []
    types: list[str] = []
    sizes: list[int] = []
    mtimes: list[str] = []
    modes: list[int] = []
    uids: list[int] = []
    gids: list[int] = []
    direct: dict[str, list[int]] = {}  # dir -> [bytes, files] directly inside
    for n in nodes:
        path = n["path"]
        kind = n.get("type", "")
        size = n.get("size", 0)
        paths.append(path)
        types.append(kind)
        sizes.append(size)
        mtimes.append(n.get("mtime", ""))
        modes.append(n.get("mode", 0))
        uids.append(n.get("uid", 0))
        gids.append(n.get("gid", 0))
        if kind == "dir":
            direct.setdefault(path, [0, 0])
        else:
            acc = direct.setdefault(parent_of(path), [0, 0])
            acc[0] += size
            acc[1] += 1
    nodes_df = pd.DataFrame(
        {
            "path": paths,
            "type": pd.Categorical(types),
            "size": pd.array(sizes, dtype="int64"),
            "mtime": mtimes,
            "mode": pd.array(modes, dtype="int64"),
            "uid": pd.array(uids, dtype="int64"),
            "gid": pd.array(gids, dtype="int64"),
        }
    )
    return nodes_df, dirs_frame(direct)


def dirs_frame(direct: Mapping[str, list[int]]) -> pd.DataFrame:
    """Direct per-directory sums → cumulative sums for every directory and its ancestors."""
    import pandas as pd

    total = {d: list(v) for d, v in direct.items()}
    for d in direct:  # ancestors restic did not list (e.g. above a backed-up path)
        p = d
        while p != "/":
            p = parent_of(p)
            if p in total:
                break
            total[p] = [0, 0]
    for d in sorted(total, key=lambda p: p.count("/"), reverse=True):  # deepest first
        if d != "/":
            t, mine = total[parent_of(d)], total[d]
            t[0] += mine[0]
            t[1] += mine[1]
    keys = list(total)
    return pd.DataFrame(
        {
            "path": keys,
            "size": pd.array([total[k][0] for k in keys], dtype="int64"),
            "files": pd.array([total[k][1] for k in keys], dtype="int64"),
            "depth": pd.array([0 if k == "/" else k.count("/") for k in keys], dtype="int64"),
        }
    ).sort_values("path", ignore_index=True)


@dataclass
class Listing:
    """One snapshot's listing: `dirs` always loaded, `nodes` read from parquet on first use."""

    snapshot_id: str
    dirs: pd.DataFrame
    nodes_path: Path | None = None
    _nodes: pd.DataFrame | None = field(default=None, repr=False)
    from_cache: bool = False

    @property
    def nodes(self) -> pd.DataFrame:
        if self._nodes is None:
            import pandas as pd

            self._nodes = pd.read_parquet(self.nodes_path)
        return self._nodes

    def size_of(self, paths: Iterable[str]) -> dict[str, tuple[int, int] | None]:
        """path → (bytes, files) for a directory or a file in the snapshot; None when absent."""
        wanted = list(paths)
        index = dict(zip(self.dirs["path"], zip(self.dirs["size"], self.dirs["files"])))
        out: dict[str, tuple[int, int] | None] = {}
        missing = []
        for p in wanted:
            p2 = p.rstrip("/") or "/"
            if p2 in index:
                out[p] = (int(index[p2][0]), int(index[p2][1]))
            else:
                missing.append(p)
        if missing:
            nodes = self._file_rows([p.rstrip("/") for p in missing])
            for p in missing:
                row = nodes.get(p.rstrip("/"))
                out[p] = None if row is None else (int(row), 1)
        return out

    def _file_rows(self, paths: list[str]) -> dict[str, int]:
        import pandas as pd

        if self._nodes is not None:
            sel = self._nodes[self._nodes["path"].isin(paths)]
        else:
            sel = pd.read_parquet(
                self.nodes_path, columns=["path", "size"], filters=[("path", "in", paths)]
            )
        return dict(zip(sel["path"], sel["size"]))

    def biggest_dirs(self, n: int = 20, depth: int | None = None) -> pd.DataFrame:
        d = self.dirs if depth is None else self.dirs[self.dirs["depth"] == depth]
        return d.nlargest(n, "size").reset_index(drop=True)


def listing_paths(cache_dir: Path, snapshot_id: str) -> tuple[Path, Path]:
    base = Path(cache_dir) / "listings"
    return base / f"{snapshot_id}.nodes.parquet", base / f"{snapshot_id}.dirs.parquet"


def load_listing(restic: Restic, snapshot_id: str, cache_dir: Path | None) -> Listing:
    """The listing of one snapshot (full id): from the parquet cache, else streamed from restic."""
    import pandas as pd

    if cache_dir is not None:
        nodes_p, dirs_p = listing_paths(cache_dir, snapshot_id)
        if dirs_p.exists() and nodes_p.exists():
            return Listing(snapshot_id, pd.read_parquet(dirs_p), nodes_p, from_cache=True)
    with restic.ls(snapshot_id) as nodes:
        nodes_df, dirs_df = parse_nodes(nodes)
    if cache_dir is None:
        return Listing(snapshot_id, dirs_df, None, nodes_df)
    nodes_p.parent.mkdir(parents=True, exist_ok=True)
    for df, p in ((nodes_df, nodes_p), (dirs_df, dirs_p)):
        tmp = p.with_suffix(".tmp")
        df.to_parquet(tmp, index=False)
        tmp.replace(p)
    return Listing(snapshot_id, dirs_df, nodes_p, nodes_df)
