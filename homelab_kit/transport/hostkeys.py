"""SSH host keys: fingerprints, pinned `host_key` lines, the client that trusts only them, keyscan.

ssh.py and hostkeys.py are the only modules importing fabric/paramiko (fabric only in ssh.py).
Host keys are pinned (`host_key` in lab.toml) or known (known_hosts), never auto-added: paramiko's
policy is replaced by one that refuses with the offered key's type, SHA256 fingerprint and the exact
`host_key = "..."` line to pin after checking it. keyscan only fetches keys for review; it never
trusts or writes them.
"""

from __future__ import annotations

import base64
import hashlib
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko

from ..errors import ConnectError, HostKeyError, InventoryError

KEYSCAN_TYPES = ("ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-512")


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's SHA256 fingerprint (what `ssh-keygen -lf` prints)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def key_line(key: paramiko.PKey) -> str:
    """The key as it goes into lab.toml's host_key: 'TYPE BASE64'."""
    return f"{key.get_name()} {key.get_base64()}"


def parse_host_key(text: str, where: str = "host_key") -> paramiko.PKey:
    """A pinned 'TYPE BASE64 [comment]' line as a key; InventoryError when it is not one."""
    parts = text.split()
    try:
        return paramiko.PKey.from_type_string(parts[0], base64.b64decode(parts[1], validate=True))
    except Exception as exc:
        raise InventoryError(
            f'{where}: not an SSH public key ("TYPE BASE64", e.g. "ssh-ed25519 AAAA..."): {exc}; '
            "get it with `homelab-kit hosts keyscan NAME`"
        ) from None


def hostkey_name(address: str, port: int) -> str:
    """The name known_hosts files use: `addr`, or `[addr]:port` off port 22."""
    return address if port == 22 else f"[{address}]:{port}"


def host_key_error(message: str, key: paramiko.PKey) -> HostKeyError:
    """A HostKeyError carrying the offered key's type, fingerprint and the line to pin."""
    err = HostKeyError(message)
    err.key_type, err.fingerprint = key.get_name(), fingerprint(key)
    err.host_key_line = f'host_key = "{key_line(key)}"'
    return err


def changed_key_error(spec: Any, exc: paramiko.BadHostKeyException, source: str) -> HostKeyError:
    """The loud error for a host whose key differs from the trusted one (MITM or reinstall)."""
    got, want = exc.key, exc.expected_key
    return host_key_error(
        f"{spec.name} ({spec.address}:{spec.port}): HOST KEY CHANGED — offered {got.get_name()} "
        f"{fingerprint(got)}, expected {want.get_name()} {fingerprint(want)} (from {source}). "
        "Someone may be intercepting the connection; if the host was reinstalled, verify the "
        f'new key and update it: host_key = "{key_line(got)}"',
        got,
    )


class RefuseUnknown(paramiko.MissingHostKeyPolicy):
    """Refuse every key we do not already trust, telling the user how to pin it."""

    def __init__(self, name: str, source: str) -> None:
        self.name, self.source = name, source

    def missing_host_key(self, client: Any, hostname: str, key: paramiko.PKey) -> None:
        raise host_key_error(
            f"{self.name} ({hostname}): unknown host key {key.get_name()} {fingerprint(key)} "
            f"(not pinned in lab.toml, not in {self.source}); check it against the host's own "
            f"`ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub`, then add to [hosts.{self.name}]: "
            f'host_key = "{key_line(key)}"',
            key,
        )


def trust_source(spec: Any, known_hosts: Path) -> str:
    """Where trust in the host's key comes from: its pinned `host_key`, else known_hosts."""
    return "lab.toml" if spec.host_key else str(known_hosts)


def trusting_client(spec: Any, known_hosts: Path) -> paramiko.SSHClient:
    """An SSHClient that trusts only the host's pinned key, else known_hosts; refuses the rest.

    `spec` is an inventory Host.
    """
    client = paramiko.SSHClient()
    if spec.host_key:
        key = parse_host_key(spec.host_key, f"hosts.{spec.name}.host_key")
        client.get_host_keys().add(hostkey_name(spec.address, spec.port), key.get_name(), key)
    elif known_hosts.is_file():
        client.load_system_host_keys(str(known_hosts))
    client.set_missing_host_key_policy(RefuseUnknown(spec.name, trust_source(spec, known_hosts)))
    return client


@dataclass(frozen=True)
class ScannedKey:
    """One host key offered by a server, for review before pinning."""

    type: str
    base64: str
    fingerprint: str

    @property
    def line(self) -> str:
        return f"{self.type} {self.base64}"


def keyscan(address: str, port: int = 22, *, timeout: float = 10.0) -> list[ScannedKey]:
    """Fetch the host keys a server offers (one handshake per key type); never trusts or writes them."""
    found: dict[str, ScannedKey] = {}
    errors: list[str] = []
    for ktype in KEYSCAN_TYPES:
        try:
            sock = socket.create_connection((address, port), timeout=timeout)
        except OSError as exc:
            raise ConnectError(f"{address}:{port}: cannot connect for keyscan: {exc}") from None
        transport = paramiko.Transport(sock)
        try:
            transport.banner_timeout = timeout
            transport.get_security_options().key_types = [ktype]
            transport.start_client(timeout=timeout)
            key = transport.get_remote_server_key()
            found.setdefault(
                key.get_name(), ScannedKey(key.get_name(), key.get_base64(), fingerprint(key))
            )
        except (paramiko.SSHException, EOFError, OSError) as exc:
            errors.append(f"{ktype}: {exc}")
        finally:
            transport.close()
    if not found:
        raise ConnectError(f"{address}:{port}: no host key offered ({'; '.join(errors)})")
    return list(found.values())
