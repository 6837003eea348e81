"""paramiko channel operations that keep a shared SSH connection alive.

paramiko builds some channel messages under the channel lock but sends them after releasing it;
these helpers send EOF and signals in order (never after CLOSE) and drain buffered output without
losing a byte, so one command's end cannot drop the connection every other command shares.
"""

from __future__ import annotations

import contextlib
from typing import IO, Any

import paramiko
from paramiko.common import cMSG_CHANNEL_REQUEST
from paramiko.message import Message


def send_ordered(chan: paramiko.Channel, build: Any) -> None:
    """Send build()'s message (None: nothing) while holding the channel lock, so never after CLOSE.

    paramiko builds a message under the channel lock but sends it after releasing it; when the
    command has just ended, its transport thread can answer the server's CLOSE in between. OpenSSH
    then frees the channel, gets our late message for a nonexistent channel and drops the whole
    connection ("ieof packet referred to nonexistent channel") — every command sharing it fails.
    Waiting for clear_to_send first keeps a rekey from stalling on the held lock.
    """
    transport = chan.get_transport()
    if transport is None:
        return
    transport.clear_to_send.wait(transport.clear_to_send_timeout)
    with chan.lock:
        if chan.closed:
            return
        m = build()
        if m is not None:
            transport._send_user_message(m)


def shutdown_write(chan: paramiko.Channel) -> None:
    """chan.shutdown_write() without its EOF-after-CLOSE race (see send_ordered)."""
    send_ordered(chan, chan._send_eof)


def send_signal(chan: paramiko.Channel, signame: str) -> None:
    """RFC 4254 'signal' request; OpenSSH ≥ 7.9 signals the command's process group."""

    def build() -> Message:
        m = Message()
        m.add_byte(cMSG_CHANNEL_REQUEST)
        m.add_int(chan.remote_chanid)
        m.add_string("signal")
        m.add_boolean(False)
        m.add_string(signame)
        return m

    with contextlib.suppress(Exception):
        send_ordered(chan, build)


def drain(chan: paramiko.Channel, out: IO[bytes], err: IO[bytes], *, to_eof: bool) -> bool:
    """Move what paramiko has buffered into out/err; True if anything came.

    to_eof: EOF or close was already seen, so the buffers are closed and complete: read both
    until recv returns b"" (it cannot block then).
    """
    got = False
    if to_eof:
        while data := chan.recv(65536):
            out.write(data)
            got = True
        while data := chan.recv_stderr(65536):
            err.write(data)
            got = True
        return got
    while chan.recv_ready():
        out.write(chan.recv(65536))
        got = True
    while chan.recv_stderr_ready():
        err.write(chan.recv_stderr(65536))
        got = True
    return got
