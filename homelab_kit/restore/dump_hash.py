"""The snapshot's side of the content check: SHA-256 of each file as `restic dump` streams it.

`TarHasher` reads a tar stream in big chunks and hashes member data straight out of them (a
memoryview slice per member), instead of tarfile's 10 KiB reads and per-member objects, which cost
more than restic itself on many small files. It understands what Go's archive/tar writes (ustar,
PAX `x`/`g` records, GNU `L`/`K` long names, base-256 numbers) and checks every header's checksum.
`stream_dump` runs one dump per root; `dump_files` runs one plain `restic dump SNAP FILE` per file in
parallel, which beats dumping the whole snapshot only for a handful of sampled files.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import IO, TYPE_CHECKING, Any

from ..errors import CommandFailed, ResticOutputError
from ..transport.runner import Result

if TYPE_CHECKING:
    from ..backups.restic import Restic

BLOCK = 512
READ = 1 << 20
PIPE_SIZE = 1 << 20
_ZERO = bytes(BLOCK)
_REGULAR = (b"0", b"\0", b"7")
_META = (b"x", b"g", b"L", b"K")
# What one extra restic process costs (key derivation, index load): per-file dumps only pay off
# when the sample is far smaller than the snapshot.
PER_CALL_SECONDS = 0.6
DUMP_BYTES_PER_SECOND = 150e6
DUMP_FILES_PER_SECOND = 50_000


class Cancelled(Exception):
    """The verification gave up (another part failed); stop reading and let restic be killed."""


def _number(field: bytes) -> int:
    if field[:1] and field[0] & 0x80:  # base-256, as Go and GNU write big values
        return int.from_bytes(field, "big") - (0x80 << (8 * (len(field) - 1)))
    text = field.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _pax(data: bytes) -> dict[str, str]:
    """PAX records `LEN key=value\\n` → dict."""
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        length = int(data[pos:space])
        key, _, value = data[space + 1 : pos + length - 1].partition(b"=")
        out[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return out


def member_path(name: str) -> str:
    """A tar member name (relative, as restic writes it) → the absolute snapshot path."""
    return "/" + name.strip("/")


class _Meta(bytearray):
    """The data of a PAX/GNU meta member, gathered in place of a hash."""

    def __init__(self, kind: bytes) -> None:
        super().__init__()
        self.kind = kind

    def update(self, data: Any) -> None:
        self += data


class TarHasher:
    """Feed a tar stream in chunks; `digests` maps each wanted regular file to its SHA-256 and
    `links` each symlink to its target. `want=None` hashes every regular file."""

    def __init__(
        self,
        want: Callable[[str], bool] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.digests: dict[str, str] = {}
        self.links: dict[str, str] = {}
        self.want = want
        self.progress = progress
        self._head = bytearray()
        self._left = 0  # data bytes of the current member still to come
        self._pad = 0  # padding after them
        self._sink: Any = None  # a hash, a _Meta or None (skip)
        self._hashing = False  # the sink is a file's hash (counted for progress)
        self._path = ""
        self._pax: dict[str, str] = {}
        self._long: dict[bytes, str] = {}
        self.ended = False

    def feed(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        pos, end, hashed = 0, len(chunk), 0
        while pos < end:
            if self._left:
                take = min(self._left, end - pos)
                if self._sink is not None:
                    self._sink.update(view[pos : pos + take])
                    if self._hashing:
                        hashed += take
                pos += take
                self._left -= take
                if not self._left:
                    self._finish()
            elif self._pad:
                take = min(self._pad, end - pos)
                pos += take
                self._pad -= take
            elif self.ended:
                break  # the zero blocks at the end
            elif self._head or end - pos < BLOCK:
                take = min(BLOCK - len(self._head), end - pos)
                self._head += view[pos : pos + take]
                pos += take
                if len(self._head) == BLOCK:
                    header = bytes(self._head)
                    self._head.clear()
                    self._header(header)
            else:
                self._header(chunk[pos : pos + BLOCK])
                pos += BLOCK
        if hashed and self.progress:
            self.progress(hashed)

    def close(self) -> None:
        """The stream ended: complain if it stopped inside a member."""
        if self._left or self._head:
            raise ResticOutputError(
                f"restic dump: the tar stream ended inside {self._path or 'a header'}"
            )

    def _header(self, header: bytes) -> None:
        if header == _ZERO:
            self.ended = True
            return
        stored = _number(header[148:156])
        if stored != sum(header) - sum(header[148:156]) + 8 * 32:
            raise ResticOutputError("restic dump: a tar header's checksum is wrong")
        kind = header[156:157]
        pax, self._pax = self._pax, {}
        size = int(pax["size"]) if "size" in pax else _number(header[124:136])
        self._left, self._pad = size, -size % BLOCK
        self._sink, self._hashing = None, False
        if kind in _META:
            self._sink = _Meta(kind)
            self._path = ""
        else:
            long_name = self._long.pop(b"L", None)
            long_link = self._long.pop(b"K", None)
            name = pax.get("path") or long_name
            if name is None:
                name = _text(header[0:100])
                if header[257:263] == b"ustar\0" and header[345] != 0:
                    name = _text(header[345:500]) + "/" + name
            self._path = path = member_path(name)
            if kind in _REGULAR:
                if self.want is None or self.want(path):
                    self._sink = hashlib.sha256()
                    self._hashing = True
            elif kind == b"2":
                self.links[path] = pax.get("linkpath") or long_link or _text(header[157:257])
            elif kind == b"1":
                source = member_path(pax.get("linkpath") or long_link or _text(header[157:257]))
                if source in self.digests and (self.want is None or self.want(path)):
                    self.digests[path] = self.digests[source]
        if not size:
            self._finish()

    def _finish(self) -> None:
        sink, self._sink = self._sink, None
        if isinstance(sink, _Meta):
            if sink.kind == b"x":
                self._pax = _pax(bytes(sink))
            elif sink.kind in (b"L", b"K"):
                self._long[sink.kind] = _text(bytes(sink))
        elif sink is not None:
            self.digests[self._path] = sink.hexdigest()


def _widen_pipe(stream: IO[bytes]) -> None:
    """Let restic write 1 MiB ahead instead of 64 KiB (fewer wake-ups on both sides)."""
    try:
        import fcntl

        fcntl.fcntl(stream.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_SIZE)
    except (OSError, ValueError, AttributeError, ImportError):
        pass


def _chunks(stream: IO[bytes], stop: threading.Event | None) -> Iterable[bytes]:
    read = getattr(stream, "read1", stream.read)
    while chunk := read(READ):
        if stop is not None and stop.is_set():
            raise Cancelled
        yield chunk


def _dump_failed(restic: Restic, exc: CommandFailed, what: str) -> Exception:
    from ..backups.restic import classify_failure

    return (
        classify_failure(exc.result, restic.repository, what)
        if isinstance(exc.result, Result)
        else exc
    )


def _raw_digest(stream: IO[bytes], progress: Callable[[int], None] | None, stop: Any) -> str:
    h = hashlib.sha256()
    for chunk in _chunks(stream, stop):
        h.update(chunk)
        if progress:
            progress(len(chunk))
    return h.hexdigest()


def stream_dump(
    restic: Restic,
    snapshot_id: str,
    roots: Iterable[tuple[str, str]],
    *,
    want: Callable[[str], bool] | None = None,
    progress: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """SHA-256 of the snapshot's bytes of every wanted file (None: every file) + symlink targets.

    `want` is asked per file as the stream reaches it, so it may learn the wanted set late.
    `roots` are (path, type) pairs: a dir is read as one `dump --archive tar` stream, a file as
    its raw bytes. Setting `stop` makes it raise Cancelled at the next chunk (restic is killed).
    """
    digests: dict[str, str] = {}
    links: dict[str, str] = {}
    env = restic.environment()
    for root, kind in roots:
        args = ["dump", *(["--no-lock"] if restic.no_lock else []), snapshot_id, root]
        if kind == "dir":
            args[1:1] = ["--archive", "tar"]
        elif want is not None and not want(root):
            continue
        try:
            with restic.runner.stream(restic.argv(*args), env=env, sudo=restic.sudo) as out:
                _widen_pipe(out)
                if kind != "dir":
                    digests[root] = _raw_digest(out, progress, stop)
                    continue
                tar = TarHasher(want, progress)
                for chunk in _chunks(out, stop):
                    tar.feed(chunk)
                tar.close()
                digests.update(tar.digests)
                links.update(tar.links)
        except CommandFailed as exc:
            raise _dump_failed(restic, exc, f"dump {snapshot_id[:8]} {root}") from None
    return digests, links


def dump_files(
    restic: Restic,
    snapshot_id: str,
    files: Iterable[str],
    *,
    workers: int = 2,
    progress: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> dict[str, str]:
    """SHA-256 of a few files, one `restic dump SNAP FILE` each, `workers` at a time."""

    def one(path: str) -> tuple[str, str]:
        digests, _ = stream_dump(
            restic, snapshot_id, [(path, "file")], progress=progress, stop=stop
        )
        return path, digests[path]

    with ThreadPoolExecutor(workers, thread_name_prefix="verify-dump") as pool:
        return dict(pool.map(one, files))


def per_file_is_cheaper(sample: int, files: int, total_bytes: int, workers: int) -> bool:
    """Whether `sample` single-file dumps beat one dump of all `files` (`total_bytes`)."""
    whole = total_bytes / DUMP_BYTES_PER_SECOND + files / DUMP_FILES_PER_SECOND
    return sample * PER_CALL_SECONDS / max(1, workers) < whole
