"""Both sides of a restore check's raw data: the restored tree on its host, and the snapshot's bytes.

`LocalTree` reads a tree on this machine (lstat walk; SHA-256 of files in a thread pool — hashlib
releases the GIL, so all cores hash). `HostTree` reads a tree on any host through its Runner: one
`find -printf` for the metadata and `sha256sum` fanned out with `xargs -P` for the bytes, so nothing
but hashes crosses the network. `stream_dump` reads `restic dump --archive tar` once, hashing each
member as it passes and noting symlink targets, and hands each wanted path to the tree to hash.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, TYPE_CHECKING

from .errors import CommandFailed
from .runner import Result, Runner
from .verify import Entry

if TYPE_CHECKING:
    from .restic import Restic

CHUNK = 1 << 20
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


def hash_file(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


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

    def __init__(self, target: str, workers: int | None = None) -> None:
        self.target = target.rstrip("/") or "/"
        self.workers = workers or os.cpu_count() or 2
        self._pool: ThreadPoolExecutor | None = None
        self._jobs: dict[str, Future[str]] = {}

    def is_root(self) -> bool:
        return os.geteuid() == 0

    def scan(self) -> dict[str, Entry]:
        """Every node below the target, keyed by its path inside the snapshot."""
        out: dict[str, Entry] = {}
        stack = [""]
        while stack:
            rel = stack.pop()
            with os.scandir(self.target + rel or "/") as it:
                for de in it:
                    path = f"{rel}/{de.name}"
                    st = de.stat(follow_symlinks=False)
                    entry = _stat_entry(path, st)
                    if entry.type == "symlink":
                        entry = _with_target(entry, os.readlink(de.path))
                    elif entry.type == "dir":
                        stack.append(path)
                    out[path] = entry
        return out

    def start_hash(self, path: str) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="verify-hash")
        self._jobs[path] = self._pool.submit(hash_file, self.target + path)

    def hashes(self) -> dict[str, str | Exception]:
        out: dict[str, str | Exception] = {}
        for path, job in self._jobs.items():
            try:
                out[path] = job.result()
            except OSError as exc:
                out[path] = exc
        self.close()
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def _with_target(entry: Entry, target: str) -> Entry:
    return Entry(
        entry.path, entry.type, entry.size, entry.mode, entry.uid, entry.gid, entry.mtime_ns, target
    )


def parse_find(output: bytes) -> dict[str, Entry]:
    """`find T -mindepth 1 -printf _FIND_FORMAT` → entries keyed by snapshot path."""
    fields = output.split(b"\0")
    out: dict[str, Entry] = {}
    for i in range(0, len(fields) - 7, 8):
        y, size, mode, uid, gid, mtime, link, rel = (
            f.decode("utf-8", "surrogateescape") for f in fields[i : i + 8]
        )
        kind = _FIND_TYPES.get(y, "irregular")
        sec, _, frac = mtime.partition(".")
        path = "/" + rel
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

    def __init__(self, runner: Runner, target: str, workers: int = 4) -> None:
        self.runner = runner
        self.target = target.rstrip("/") or "/"
        self.workers = workers
        self._wanted: list[str] = []

    def is_root(self) -> bool:
        return self.runner.run(["id", "-u"], timeout=30).check().stdout.strip() == "0"

    def scan(self) -> dict[str, Entry]:
        argv = ["find", self.target, "-mindepth", "1", "-printf", _FIND_FORMAT]
        with self.runner.stream(argv) as out:
            return parse_find(out.read())

    def start_hash(self, path: str) -> None:
        self._wanted.append(path)

    def hashes(self) -> dict[str, str | Exception]:
        if not self._wanted:
            return {}
        names = (
            b"\0".join(("." + p).encode("utf-8", "surrogateescape") for p in self._wanted) + b"\0"
        )
        res = self.runner.run(
            ["sh", "-c", _HASH_SCRIPT, "sh", self.target, str(self.workers)], stdin=names
        )
        got: dict[str, str | Exception] = {}
        for record in res.stdout.split("\0"):
            digest, sep, name = record.partition("  ")
            if sep and name.startswith("./"):
                got[name[1:]] = digest
        for p in self._wanted:
            got.setdefault(
                p,
                OSError(f"{self.runner.host}: cannot read {self.target}{p}: {res.stderr_tail(1)}"),
            )
        self._wanted = []
        return got

    def close(self) -> None:
        self._wanted = []


def _member_path(name: str) -> str:
    return "/" + name.strip("/")


def _digest(stream: IO[bytes], progress: Callable[[int], None] | None) -> str:
    h = hashlib.sha256()
    while chunk := stream.read(CHUNK):
        h.update(chunk)
        if progress:
            progress(len(chunk))
    return h.hexdigest()


def _dump_failed(restic: Restic, exc: CommandFailed, what: str) -> Exception:
    from .restic import classify_failure

    return (
        classify_failure(exc.result, restic.repository, what)
        if isinstance(exc.result, Result)
        else exc
    )


def stream_dump(
    restic: Restic,
    snapshot_id: str,
    roots: Iterable[tuple[str, str]],
    *,
    wanted: set[str],
    tree: LocalTree | HostTree,
    progress: Callable[[int], None] | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """Hash the snapshot's bytes of every wanted file; return (digests, symlink targets).

    `roots` are (path, type) pairs: a dir is read as one tar stream, a file as raw bytes. Each
    wanted path is handed to `tree.start_hash` as soon as its member starts, so the restored copy
    is hashed on other cores while the snapshot's copy streams through this one.
    """
    digests: dict[str, str] = {}
    links: dict[str, str] = {}
    env = restic.environment()
    for root, kind in roots:
        args = (
            ["dump", "--archive", "tar", snapshot_id, root]
            if kind == "dir"
            else ["dump", snapshot_id, root]
        )
        try:
            with restic.runner.stream(restic.argv(*args), env=env, sudo=restic.sudo) as out:
                if kind != "dir":
                    if root in wanted:
                        tree.start_hash(root)
                        digests[root] = _digest(out, progress)
                    continue
                with tarfile.open(fileobj=out, mode="r|") as tar:
                    for member in tar:
                        path = _member_path(member.name)
                        if member.issym():
                            links[path] = member.linkname
                        elif path not in wanted:
                            continue
                        elif member.isreg():
                            tree.start_hash(path)
                            data = tar.extractfile(member)
                            digests[path] = (
                                _digest(data, progress) if data else hashlib.sha256().hexdigest()
                            )
                        elif member.islnk() and _member_path(member.linkname) in digests:
                            tree.start_hash(path)
                            digests[path] = digests[_member_path(member.linkname)]
                while out.read(CHUNK):  # the tar trailer: let restic finish writing
                    pass
        except CommandFailed as exc:
            raise _dump_failed(restic, exc, f"dump {snapshot_id[:8]} {root}") from None
    return digests, links
