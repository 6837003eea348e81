"""Give a demo restic repository a cheap key, so ~250 restic runs fit the demo's time budget.

restic calibrates its scrypt parameters to ~0.5 s per repository opening; the demo opens its
repositories hundreds of times. This re-wraps the repository's master key under the same password
with N=2^10 (restic's own key format: scrypt → AES-256-CTR + Poly1305-AES), which every restic
reads. Only for the throw-away demo: never do this to a real repository. If anything is off, the
original key stays and the build is just slower.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

_MASK = bytes.fromhex("ffffff0ffcffff0ffcffff0ffcffff0f")  # poly1305 "r" clamp, as restic does
DEMO_KDF = {"N": 1024, "r": 8, "p": 1}


def _derive(password: bytes, salt: bytes, n: int, r: int, p: int) -> tuple[bytes, bytes, bytes]:
    k = hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, dklen=64, maxmem=2**31 - 1)
    return k[:32], k[32:48], bytes(a & b for a, b in zip(k[48:64], _MASK))


def _mac(msg: bytes, nonce: bytes, k: bytes, r: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.poly1305 import Poly1305

    enc = Cipher(algorithms.AES(k), modes.ECB()).encryptor()
    return Poly1305.generate_tag(r + enc.update(nonce) + enc.finalize(), msg)


def _ctr(key: bytes, nonce: bytes, data: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    c = Cipher(algorithms.AES(key), modes.CTR(nonce)).encryptor()
    return c.update(data) + c.finalize()


def cheapen_key(repository: Path, password_file: Path) -> bool:
    """Replace the repository's only key by an equivalent one with cheap KDF parameters."""
    try:
        (keyfile,) = list((repository / "keys").iterdir())
        doc = json.loads(keyfile.read_text())
        password = password_file.read_bytes().rstrip(b"\r\n")
        enc, k, r = _derive(password, base64.b64decode(doc["salt"]), doc["N"], doc["r"], doc["p"])
        raw = base64.b64decode(doc["data"])
        nonce, body, tag = raw[:16], raw[16:-16], raw[-16:]
        if _mac(body, nonce, k, r) != tag:
            return False
        master = _ctr(enc, nonce, body)
        salt, nonce = os.urandom(64), os.urandom(16)
        enc, k, r = _derive(password, salt, DEMO_KDF["N"], DEMO_KDF["r"], DEMO_KDF["p"])
        body = _ctr(enc, nonce, master)
        doc.update(DEMO_KDF, salt=base64.b64encode(salt).decode(),
                   data=base64.b64encode(nonce + body + _mac(body, nonce, k, r)).decode())  # fmt: skip
        new = json.dumps(doc).encode()
        path = keyfile.with_name(hashlib.sha256(new).hexdigest())
        path.write_bytes(new)
        path.chmod(0o400)
        keyfile.unlink()
        return True
    except (ImportError, ValueError, KeyError, OSError):
        return False
