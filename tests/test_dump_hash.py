"""The chunked tar reader that hashes `restic dump` streams (real restic dumps: test_restore.py).

Archives are written by Python's tarfile in each format restic's Go writer may use (ustar, PAX,
GNU long names) and fed in awkward chunk sizes; every digest must match hashlib on the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import tarfile

import pytest

from homelab_kit.errors import ResticOutputError
from homelab_kit.restore.dump_hash import TarHasher, per_file_is_cheaper

LONG = "deep/" + "d" * 120 + "/" + "f" * 150 + ".bin"
FILES = {
    "srv/data/plain.txt": b"hello\n",
    "srv/data/empty": b"",
    "srv/data/name with spaces.txt": b"spaces",
    "srv/data/new\nline.txt": b"newline",
    "srv/data/ünïcødé.txt": "ünïcødé".encode(),
    "srv/data/" + LONG: os.urandom(3000),
    "srv/data/exact-block.bin": os.urandom(512),
    "srv/data/big.bin": os.urandom(3 << 20),
}


def _archive(fmt: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        d = tarfile.TarInfo("srv/data")
        d.type = tarfile.DIRTYPE
        tar.addfile(d)
        for name, data in FILES.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("srv/data/link")
        link.type, link.linkname = tarfile.SYMTYPE, "../" + "t" * 140
        tar.addfile(link)
        hard = tarfile.TarInfo("srv/data/hard")
        hard.type, hard.linkname = tarfile.LNKTYPE, "srv/data/plain.txt"
        tar.addfile(hard)
    return buf.getvalue()


def _feed(data: bytes, sizes: list[int], **kw) -> TarHasher:
    hasher = TarHasher(**kw)
    pos = 0
    rng = random.Random(1)
    while pos < len(data):
        n = rng.choice(sizes)
        hasher.feed(data[pos : pos + n])
        pos += n
    hasher.close()
    return hasher


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
@pytest.mark.parametrize("sizes", [[1 << 20], [1, 7, 511, 513], [512], [100_000, 3]])
def test_every_member_hashed_in_every_format_and_chunking(fmt, sizes):
    hasher = _feed(_archive(fmt), sizes)
    expected = {"/" + n: hashlib.sha256(d).hexdigest() for n, d in FILES.items()}
    expected["/srv/data/hard"] = expected["/srv/data/plain.txt"]
    assert hasher.digests == expected
    assert hasher.links == {"/srv/data/link": "../" + "t" * 140}
    assert hasher.ended


def test_ustar_prefix_names():
    buf = io.BytesIO()
    name = "a" * 90 + "/" + "b" * 90 + "/file"  # > 100 chars: ustar splits it into prefix + name
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    hasher = _feed(buf.getvalue(), [700])
    assert hasher.digests == {"/" + name: hashlib.sha256(b"abc").hexdigest()}


def test_only_wanted_files_are_hashed_and_progress_counts_their_bytes():
    seen: list[int] = []
    hasher = _feed(
        _archive(tarfile.PAX_FORMAT),
        [65536],
        want={"/srv/data/big.bin", "/srv/data/hard"}.__contains__,
        progress=seen.append,
    )
    # the hard link's source was not hashed, so the link cannot borrow its digest
    assert set(hasher.digests) == {"/srv/data/big.bin"}
    assert sum(seen) == len(FILES["srv/data/big.bin"])


def test_a_flipped_header_byte_is_refused():
    data = bytearray(_archive(tarfile.PAX_FORMAT))
    data[10] ^= 0x01
    with pytest.raises(ResticOutputError, match="checksum"):
        _feed(bytes(data), [4096])


def test_a_stream_cut_inside_a_member_is_refused():
    data = _archive(tarfile.GNU_FORMAT)
    cut = data.index(FILES["srv/data/big.bin"][:64]) + 1000
    with pytest.raises(ResticOutputError, match="ended inside"):
        _feed(data[:cut], [4096])


def test_per_file_dumps_only_for_small_samples():
    assert per_file_is_cheaper(5, 50_000, 1 << 30, 2)
    assert not per_file_is_cheaper(2500, 50_000, 1 << 30, 2)
    assert not per_file_is_cheaper(3, 10, 1 << 20, 2)
