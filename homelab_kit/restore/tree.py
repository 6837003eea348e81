"""The restored side of a restore check: the tree's metadata and the SHA-256 of its files.

`LocalTree` reads a tree on this machine (lstat walk; SHA-256 of files in a thread pool, in batches
so that 50,000 small files do not cost 50,000 task hand-offs — hashlib releases the GIL, so all
cores hash). `HostTree` reads a tree on any host through its Runner: one `find -printf` for the
metadata and `sha256sum` fanned out with `xargs -P` for the bytes, so nothing but hashes crosses the
network. Both start hashing when asked (`start_hashes`) and hand the results over at `hashes()`, so
the restored copy is hashed while the snapshot's copy streams (dump_hash).

A `scope` (snapshot paths) limits the walk to those paths and their parent folders, for a restore
into a tree that holds more than the restore: a drill into a host's own `/`.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor

from ..transport.runner import Result, Runner
from .compare import Entry

BATCH_FILES = 64
READ = 1 << 20
BATCH_BYTES = 16 << 20
_TYPES = {
    stat.S_IFREG: "file",
    stat.S_IFDIR: "dir",
    stat.S_IFLNK: "symlink",
    stat.S_IFIFO: "fifo",
    stat.S_IFSOCK: "socket",
    stat.S_IFCHR: "chardev",
    stat.S_IFBLK: "dev",
}
_FIND_TYPES = {
    "f": "file",
    "d": "dir",
    "l": "symlink",
    "p": "fifo",
    "s": "socket",
    "c": "chardev",
    "b": "dev",
}
_FIND_FORMAT = "%y\\0%s\\0%m\\0%U\\0%G\\0%T@\\0%l\\0%P\\0"
_HASH_SCRIPT = 'cd -- "$1" && exec xargs -0 -r -n 256 -P "$2" sha256sum -z --'
# $1 the tree, $2 the find format, $3 how many of the rest are parents (listed, not walked)
_SCOPED_FIND = r"""cd -- "$1" || exit 2
fmt=$2 n=$3 i=0 rc=0
shift 3
for p do
  i=$((i + 1))
  if [ -e "$p" ] || [ -L "$p" ]; then
    if [ "$i" -le "$n" ]; then find "$p" -maxdepth 0 -printf "$fmt" || rc=$?
    else find "$p" -printf "$fmt" || rc=$?; fi
  fi
done
exit $rc
"""


def parents(scope: Iterable[str]) -> list[str]:
    """The folders above the scoped paths ("/a/b/c" → "/a", "/a/b"), outside the scope itself."""
    paths = set(scope)
    out = set()
    for p in paths:
        while (p := os.path.dirname(p)) not in ("/", ""):
            out.add(p)
    return sorted(out - paths)


def hash_file(path: str) -> str:
    """SHA-256 of a file; raw os.read skips the buffered-file setup that dominates small files."""
    fd = os.open(path, os.O_RDONLY)
    try:
        h = hashlib.sha256()
        while chunk := os.read(fd, READ):
            h.update(chunk)
        return h.hexdigest()
    finally:
        os.close(fd)


def _hash_batch(root: str, paths: list[str]) -> dict[str, str | Exception]:
    out: dict[str, str | Exception] = {}
    for path in paths:
        try:
            out[path] = hash_file(root + path)
        except OSError as exc:
            out[path] = exc
    return out


def _batches(paths: Iterable[str], sizes: dict[str, int] | None) -> Iterable[list[str]]:
    """Groups of up to BATCH_FILES files / BATCH_BYTES bytes (a big file goes alone)."""
    batch: list[str] = []
    weight = 0
    for path in paths:
        batch.append(path)
        weight += (sizes or {}).get(path, 0)
        if len(batch) >= BATCH_FILES or weight >= BATCH_BYTES:
            yield batch
            batch, weight = [], 0
    if batch:
        yield batch


def _stat_entry(path: str, st: os.stat_result) -> Entry:
    kind = _TYPES.get(stat.S_IFMT(st.st_mode), "irregular")
    return Entry(
        path=path,
        type=kind,
        size=st.st_size if kind == "file" else None,
        mode=stat.S_IMODE(st.st_mode),
        uid=st.st_uid,
        gid=st.st_gid,
        mtime_ns=st.st_mtime_ns,
    )


class LocalTree:
    """A restored tree on this machine."""

    def __init__(
        self, target: str, workers: int | None = None, scope: Iterable[str] | None = None
    ) -> None:
        self.target = target.rstrip("/") or "/"
        self.base = "" if self.target == "/" else self.target  # base + snapshot path = real path
        self.scope = None if scope is None else sorted(set(scope))
        self.workers = workers or os.cpu_count() or 2
        self._pool: ThreadPoolExecutor | None = None
        self._jobs: list[Future[dict[str, str | Exception]]] = []

    def is_root(self) -> bool:
        return os.geteuid() == 0

    def scan(self) -> dict[str, Entry]:
        """Every node below the target (or in the scope), keyed by its path inside the snapshot."""
        out: dict[str, Entry] = {}
        if self.scope is None:
            self._walk("", out)
            return out
        for path in [*parents(self.scope), *self.scope]:
            try:
                st = os.lstat(self.base + path)
            except FileNotFoundError:
                continue
            entry = _stat_entry(path, st)
            if entry.type == "symlink":
                entry = _with_target(entry, os.readlink(self.base + path))
            out[path] = entry
            if entry.type == "dir" and path in self.scope:
                self._walk(path, out)
        return out

    def _walk(self, top: str, out: dict[str, Entry]) -> None:
        stack = [top]
        while stack:
            rel = stack.pop()
            with os.scandir(self.base + rel or "/") as it:
                for de in it:
                    path = f"{rel}/{de.name}"
                    st = de.stat(follow_symlinks=False)
                    entry = _stat_entry(path, st)
                    if entry.type == "symlink":
                        entry = _with_target(entry, os.readlink(de.path))
                    elif entry.type == "dir":
                        stack.append(path)
                    out[path] = entry

    def start_hashes(self, paths: Iterable[str], sizes: dict[str, int] | None = None) -> None:
        """Start hashing these files (snapshot paths) on all cores; `sizes` helps batching."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="verify-hash")
        for batch in _batches(paths, sizes):
            self._jobs.append(self._pool.submit(_hash_batch, self.base, batch))

    def hashes(self) -> dict[str, str | Exception]:
        """path → hex digest, or the OSError that stopped reading it."""
        out: dict[str, str | Exception] = {}
        try:
            for job in self._jobs:
                out.update(job.result())
        finally:
            self.close()
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
        self._jobs = []


def _with_target(entry: Entry, target: str) -> Entry:
    return Entry(
        entry.path, entry.type, entry.size, entry.mode, entry.uid, entry.gid, entry.mtime_ns, target
    )


def parse_find(output: bytes) -> dict[str, Entry]:
    """`find T -mindepth 1 -printf _FIND_FORMAT` → entries keyed by snapshot path (the scoped
    form prints `%p` from inside T: `./a/b`)."""
    fields = output.split(b"\0")
    out: dict[str, Entry] = {}
    for i in range(0, len(fields) - 7, 8):
        y, size, mode, uid, gid, mtime, link, rel = (
            f.decode("utf-8", "surrogateescape") for f in fields[i : i + 8]
        )
        kind = _FIND_TYPES.get(y, "irregular")
        sec, _, frac = mtime.partition(".")
        path = "/" + rel.removeprefix("./")
        out[path] = Entry(
            path=path,
            type=kind,
            size=int(size) if kind == "file" else None,
            mode=int(mode, 8),
            uid=int(uid),
            gid=int(gid),
            mtime_ns=int(sec) * 1_000_000_000 + int((frac + "000000000")[:9]),
            target=link if kind == "symlink" else None,
        )
    return out


class HostTree:
    """A restored tree on any host, read with find and sha256sum through its Runner."""

    def __init__(
        self, runner: Runner, target: str, workers: int = 4, scope: Iterable[str] | None = None
    ) -> None:
        self.runner = runner
        self.target = target.rstrip("/") or "/"
        self.scope = None if scope is None else sorted(set(scope))
        self.workers = workers
        self._wanted: list[str] = []
        self._thread: threading.Thread | None = None
        self._result: Result | Exception | None = None

    def is_root(self) -> bool:
        return self.runner.run(["id", "-u"], timeout=30).check().stdout.strip() == "0"

    def scan(self) -> dict[str, Entry]:
        argv = ["find", self.target, "-mindepth", "1", "-printf", _FIND_FORMAT]
        if self.scope is not None:
            above = parents(self.scope)
            fmt = _FIND_FORMAT.replace("%P", "%p")
            argv = ["sh", "-c", _SCOPED_FIND, "sh", self.target, fmt, str(len(above))]
            argv += ["." + p for p in [*above, *self.scope]]
        with self.runner.stream(argv) as out:
            return parse_find(out.read())

    def start_hashes(self, paths: Iterable[str], sizes: dict[str, int] | None = None) -> None:
        """Start `sha256sum` on the host in the background (one command, `workers` processes)."""
        self._wanted = list(paths)
        self._result = None
        if self._wanted:
            self._thread = threading.Thread(target=self._run_hashes, name="verify-hash-host")
            self._thread.start()

    def _run_hashes(self) -> None:
        names = (
            b"\0".join(("." + p).encode("utf-8", "surrogateescape") for p in self._wanted) + b"\0"
        )
        try:
            self._result = self.runner.run(
                ["sh", "-c", _HASH_SCRIPT, "sh", self.target, str(self.workers)], stdin=names
            )
        except Exception as exc:  # handed over by hashes()
            self._result = exc

    def hashes(self) -> dict[str, str | Exception]:
        """path → hex digest, or an OSError naming the file that could not be read."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        res, self._result = self._result, None
        wanted, self._wanted = self._wanted, []
        if isinstance(res, Exception):
            raise res
        if res is None:
            return {}
        got: dict[str, str | Exception] = {}
        for record in res.stdout.split("\0"):
            digest, sep, name = record.partition("  ")
            if sep and name.startswith("./"):
                got[name[1:]] = digest
        for p in wanted:
            got.setdefault(
                p,
                OSError(f"{self.runner.host}: cannot read {self.target}{p}: {res.stderr_tail(1)}"),
            )
        return got

    def close(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._wanted = []
        self._result = None
