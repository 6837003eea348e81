"""Real restic repositories for tests, made fast.

`restic init` calibrates scrypt to ~0.5 s and every later command pays it again, so a 60-snapshot
history would take a minute. `make_template` runs the real `restic init` once per restic version,
then re-wraps the repository's master key with cheap scrypt parameters (same format restic writes:
AES-256-CTR + Poly1305-AES), so each later real restic call costs milliseconds. Tests copy the
template and point RESTIC_CACHE_DIR at their own folder (copies share the repository id).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.poly1305 import Poly1305

PASSWORD = "correct horse battery staple"


def _kdf(password: bytes, key: dict, n: int, r: int, p: int) -> tuple[bytes, bytes, bytes]:
    salt = base64.b64decode(key["salt"])
    raw = hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=64)
    return raw[:32], raw[32:48], raw[48:64]  # AES key, MAC k, MAC r


def _mac(enc_k: bytes, mac_r: bytes, nonce: bytes, msg: bytes) -> bytes:
    aes = Cipher(algorithms.AES(enc_k), modes.ECB()).encryptor()
    s = aes.update(nonce) + aes.finalize()
    return Poly1305.generate_tag(mac_r + s, msg)


def _ctr(key: bytes, nonce: bytes, data: bytes) -> bytes:
    c = Cipher(algorithms.AES(key), modes.CTR(nonce)).encryptor()
    return c.update(data) + c.finalize()


def weaken_key(repo: Path, password: str = PASSWORD, n: int = 16, r: int = 1, p: int = 1) -> None:
    """Re-wrap the repository's key file with cheap scrypt parameters (tests only!)."""
    (key_file,) = (repo / "keys").iterdir()
    key = json.loads(key_file.read_text())
    aes, mk, mr = _kdf(password.encode(), key, key["N"], key["r"], key["p"])
    blob = base64.b64decode(key["data"])
    nonce, ct, tag = blob[:16], blob[16:-16], blob[-16:]
    assert _mac(mk, mr, nonce, ct) == tag, "wrong password for the template key"
    plain = _ctr(aes, nonce, ct)
    key.update(N=n, r=r, p=p)
    aes2, mk2, mr2 = _kdf(password.encode(), key, n, r, p)
    nonce2 = os.urandom(16)
    ct2 = _ctr(aes2, nonce2, plain)
    key["data"] = base64.b64encode(nonce2 + ct2 + _mac(mk2, mr2, nonce2, ct2)).decode()
    body = json.dumps(key).encode()
    mode = key_file.stat().st_mode
    key_file.unlink()
    new = repo / "keys" / hashlib.sha256(body).hexdigest()
    new.write_bytes(body)
    new.chmod(mode)


def make_template(restic: str, where: Path) -> Path:
    """A freshly `restic init`-ed repository with a fast key, plus its password file."""
    where.mkdir(parents=True, exist_ok=True)
    pw = where / "password"
    pw.write_text(PASSWORD + "\n")
    repo = where / "repo"
    env = {**os.environ, "RESTIC_PASSWORD_FILE": str(pw), "RESTIC_CACHE_DIR": str(where / "cache")}
    subprocess.run([restic, "-r", str(repo), "init"], check=True, capture_output=True, env=env)
    weaken_key(repo)
    return repo


def copy_repo(template: Path, dest: Path) -> tuple[Path, Path]:
    """Copy a template repository; returns (repo, password_file)."""
    dest.mkdir(parents=True, exist_ok=True)
    repo = dest / "repo"
    shutil.copytree(template, repo)
    pw = dest / "password"
    shutil.copy(template.parent / "password", pw)
    return repo, pw


_TEMPLATES: dict[str, Path] = {}


def template_for(restic: str, base: Path) -> Path:
    """One template per restic binary per test session."""
    if restic not in _TEMPLATES:
        _TEMPLATES[restic] = make_template(restic, base / f"template-{len(_TEMPLATES)}")
    return _TEMPLATES[restic]


def new_repo(restic: str, tmp_path_factory, dest: Path, monkeypatch):
    """A fresh real repository for `restic` as a homelab_kit Restic, cache kept per test."""
    from homelab_kit.backups.restic import Restic

    template = template_for(restic, tmp_path_factory.getbasetemp())
    repo, pw = copy_repo(template, dest)
    monkeypatch.setenv("RESTIC_CACHE_DIR", str(dest / "cache"))
    return Restic(repository=str(repo), password_file=str(pw), binary=restic)


def make_tree(root: Path, files: dict[str, bytes | str]) -> Path:
    """Write small files under root (parents created)."""
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode() if isinstance(content, str) else content)
    return root
