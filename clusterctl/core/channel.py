"""One remote command on one SSH exec channel: stdin streamed in, stdout and stderr read as they come.

This is the bottom of the execution core: every remote command of a run goes
through :func:`execute`, on the run's one connection to the host.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable

if TYPE_CHECKING:
    import paramiko

OPEN_TIMEOUT = 10.0
READ_CHUNK = 65536
SEND_CHUNK = 32768
SEND_STEP = 0.25  # seconds a send may block before the abort flag is looked at again


@dataclass(frozen=True)
class CommandResult:
    """How one remote command ended: its exit status (-1 when none came back) and its output."""

    exited: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exited == 0


def require_reason(allow_failure: str | None) -> None:
    """Refuse an opt-out of checking a command's exit status that does not say why (TypeError).

    Every caller either lets a non-zero exit raise or names, in ``allow_failure``,
    why it reads the status itself: an ignored result is never an accident.
    """
    if allow_failure is not None and (not isinstance(allow_failure, str) or not allow_failure.strip()):
        raise TypeError("allow_failure takes the reason a failed exit is expected and read by the caller, "
                        f"not {allow_failure!r}")


class ChannelLost(Exception):
    """The connection went away (or stalled past its timeout) before the command ended."""


class ChannelAborted(Exception):
    """The run asked to stop and the command was cut off."""


def _send(channel: paramiko.Channel, data: bytes, timeout: float, abort: threading.Event | None) -> None:
    """Send all of ``data``, in steps short enough to notice ``abort`` while the far end reads slowly."""
    view = memoryview(data)
    stalled_since = time.monotonic()
    channel.settimeout(SEND_STEP)
    try:
        while view:
            if abort is not None and abort.is_set():
                raise ChannelAborted()
            try:
                sent = channel.send(view[:SEND_CHUNK])
            except socket.timeout:
                if time.monotonic() - stalled_since > timeout:
                    raise ChannelLost(f"the far end took nothing for {timeout:.0f}s") from None
                continue
            if sent == 0:
                raise ChannelLost("the channel closed while sending")
            view = view[sent:]
            stalled_since = time.monotonic()
    finally:
        channel.settimeout(timeout)


def execute(transport: paramiko.Transport, command: str, stdin: Iterable[bytes] | None, *, timeout: float,
            sent: Callable[[int], None] | None = None, abort: threading.Event | None = None,
            sink: Callable[[bytes], None] | None = None) -> CommandResult:
    """Run ``command`` with ``stdin`` (chunks, then EOF) and return its exit status and output.

    With ``sink``, stdout goes to it as it comes (a file fetched from the host,
    never held in memory) and the result's stdout is empty.

    Output is read while stdin is still being sent, so a command that talks
    back never blocks on a full window. ``sent`` is told the number of bytes
    sent so far after each chunk. Raises ChannelLost when the connection drops
    or nothing moves for ``timeout`` seconds, ChannelAborted when ``abort`` is
    set (the remote side then sees its input end early).
    """
    import paramiko  # loaded already (the transport is its); not at this module's import, which the CLI does
    out, err = bytearray(), bytearray()
    received = [0]  # bytes given to the sink: progress, as far as the stall timeout is concerned
    try:
        channel = transport.open_session(timeout=OPEN_TIMEOUT)
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise ChannelLost(str(exc) or type(exc).__name__) from None
    try:
        channel.settimeout(timeout)
        channel.exec_command(command)

        def drain() -> None:
            while channel.recv_ready():
                if sink is None:
                    out.extend(channel.recv(READ_CHUNK))
                else:
                    chunk = channel.recv(READ_CHUNK)
                    sink(chunk)
                    received[0] += len(chunk)
            while channel.recv_stderr_ready():
                err.extend(channel.recv_stderr(READ_CHUNK))

        total = 0
        for chunk in stdin or ():
            _send(channel, chunk, timeout, abort)
            total += len(chunk)
            drain()
            if sent is not None:
                sent(total)
        channel.shutdown_write()
        quiet_since = time.monotonic()
        while not channel.closed and not (channel.eof_received and not channel.recv_ready()
                                          and not channel.recv_stderr_ready()):
            if abort is not None and abort.is_set():
                raise ChannelAborted()
            readable, _, _ = select.select([channel], [], [], 0.2)
            if readable:
                before = len(out) + len(err) + received[0]
                drain()
                if len(out) + len(err) + received[0] != before:
                    quiet_since = time.monotonic()
            elif not transport.is_active():
                raise ChannelLost("the connection was closed")
            elif time.monotonic() - quiet_since > timeout:
                raise ChannelLost(f"no answer for {timeout:.0f}s")
        drain()
        if not channel.status_event.wait(OPEN_TIMEOUT):
            raise ChannelLost("no exit status came back")
        exited = channel.exit_status
    except (OSError, EOFError, paramiko.SSHException) as exc:  # reset, closed, timed out, transport gone
        raise ChannelLost(str(exc) or type(exc).__name__) from None
    finally:
        channel.close()
    return CommandResult(exited, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))
