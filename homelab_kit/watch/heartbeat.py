"""The dead-man switch: ping a heartbeat URL so that a watcher that stops is noticed from outside.

healthchecks-style (healthchecks.io, self-hosted healthchecks, anything that speaks its ping API):
`<url>/start` when a check begins, `<url>` when it passed, `<url>/fail` when it failed or could not
run, the digest as the body (at most 100 kB) and one run id so the server can time the run.
Uptime Kuma push URLs (`…/api/push/<token>`) get `?status=up|down&msg=…` instead. A ping that
fails is a result (reported, journaled), never an exception.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urlsplit, urlunsplit
from urllib.request import Request, urlopen

from .redact import redact_url, scrub, secrets_of

BODY_LIMIT = 100_000  # healthchecks keeps the first 100 kB of a ping body
TIMEOUT = 10.0
ATTEMPTS = 2
USER_AGENT = "homelab-kit"


@dataclass
class Ping:
    """One ping's outcome (the URL redacted)."""

    event: str
    url: str
    ok: bool
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.event, "url": self.url, "ok": self.ok, "error": self.error}


def is_kuma(url: str) -> bool:
    return "/api/push/" in urlsplit(url).path


def ping_request(url: str, event: str, body: str, rid: str) -> Request | None:
    """The HTTP request for an event ("start", "success", "fail"); None: nothing to send."""
    parts = urlsplit(url)
    if is_kuma(url):
        if event == "start":
            return None  # a push monitor has no "started": only up or down
        query = urlencode({"status": "up" if event == "success" else "down",
                           "msg": body.splitlines()[-1][:200] if body else event, "ping": ""})  # fmt: skip
        return Request(urlunsplit(parts._replace(query=query)), headers={"User-Agent": USER_AGENT})
    path = parts.path.rstrip("/") + ("" if event == "success" else f"/{event}")
    query = "&".join(x for x in (parts.query, urlencode({"rid": rid})) if x)
    data = body.encode()[:BODY_LIMIT]
    return Request(
        urlunsplit(parts._replace(path=path, query=query)),
        data=data,
        method="POST",
        headers={"User-Agent": USER_AGENT, "Content-Type": "text/plain; charset=utf-8"},
    )


class Heartbeat:
    """The pings of one check run (same run id for start and end)."""

    def __init__(self, url: str | None) -> None:
        self.url = url
        self.rid = str(uuid.uuid4())
        self.pings: list[Ping] = []

    def send(self, event: str, body: str = "") -> Ping | None:
        if not self.url:
            return None
        req = ping_request(self.url, event, body, self.rid)
        if req is None:
            return None
        shown = redact_url(self.url)
        error = None
        for attempt in range(ATTEMPTS):
            try:
                with urlopen(req, timeout=TIMEOUT) as resp:
                    resp.read()
                error = None
                break
            except HTTPError as exc:
                error = f"HTTP {exc.code} {exc.reason}"
                break  # the server answered: asking again will not change its mind
            except (URLError, OSError) as exc:
                error = str(getattr(exc, "reason", exc))
                if attempt + 1 < ATTEMPTS:
                    time.sleep(1.0)
        if error:
            error = f"heartbeat {event} to {shown} failed: {scrub(error, secrets_of([self.url]))}"
        ping = Ping(event, shown, error is None, error)
        self.pings.append(ping)
        return ping

    def start(self) -> Ping | None:
        return self.send("start")

    def finish(self, passed: bool, body: str) -> Ping | None:
        return self.send("success" if passed else "fail", body)
