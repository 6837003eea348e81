"""Notification URLs and heartbeat URLs carry their secret in the URL itself (an ntfy topic, a
healthchecks UUID, a bot token): show only where they go, and scrub them out of any text."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit

MIN_SECRET = 4  # shorter pieces ("a", "v1") are not worth hiding and would mangle text


def redact_url(url: str) -> str:
    """'ntfy://ntfy.example/homelab' → 'ntfy://ntfy.example/…'; a host that is not a DNS name or
    an address (a bot token, a webhook id) is hidden too: 'tgram://…'."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url.split("://", 1)[0] + "://…" if "://" in url else "…"
    host = parts.hostname or ""
    hostlike = host == "localhost" or "." in host or ":" in host
    where = (host + (f":{port}" if port else "")) if hostlike else "…"
    user = "***@" if parts.username or parts.password else ""
    rest = "/…" if hostlike and (parts.path.strip("/") or parts.query) else ""
    return f"{parts.scheme}://{user}{where}{rest}"


def secrets_of(urls: Iterable[str]) -> set[str]:
    """Every piece of these URLs that may be a secret: the URL, user info, path, query values,
    and a host that is not a DNS name."""
    out: set[str] = set()
    for url in urls:
        out.add(url)
        try:
            parts = urlsplit(url)
        except ValueError:
            continue
        host = parts.hostname or ""
        if host and "." not in host and host != "localhost":
            out.add(host)
        out.update(x for x in (parts.username, parts.password) if x)
        out.update(seg for seg in parts.path.split("/") if seg)
        out.update(v for _, v in parse_qsl(parts.query))
        if parts.path.strip("/"):
            out.add(parts.path.strip("/"))
    return {s for s in out if len(s) >= MIN_SECRET}


def scrub(text: str, secrets: Iterable[str]) -> str:
    """The text with every secret replaced by ***, longest first."""
    for s in sorted(secrets, key=len, reverse=True):
        text = text.replace(s, "***")
    return text
