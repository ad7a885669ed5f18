"""ZooKeeper's four-letter words: asking a server about itself over its client port.

A four-letter word is four ASCII bytes sent on a fresh TCP connection to the
client port; the server writes its answer and closes. Parsing the answers is
pure; :func:`ask` is the only code here that touches the network. The same
exchange is also available as a small Python program to run on a node
(remote/zk_node.py ask), for when the controller cannot reach the client port
itself.
"""

from __future__ import annotations

import json
import socket
import sys
from dataclasses import dataclass

ASK_TIMEOUT = 2.0  # seconds; a healthy server answers in milliseconds
MAX_ANSWER = 1 << 20

NOT_SERVING = "This ZooKeeper instance is not currently serving requests"
NOT_WHITELISTED = "is not executed because it is not in the whitelist"


class FourLetterWordError(Exception):
    """The server could not be asked (refused, unreachable, timed out)."""

    def __init__(self, message: str, *, refused: bool = False):
        super().__init__(message)
        self.refused = refused  # reachable, but nothing listens on the port: the server is down


def ask(address: str, port: int, word: str, timeout: float = ASK_TIMEOUT, tls=None) -> str:
    """The server's answer to ``word``; raises FourLetterWordError if it cannot be asked. ``tls`` (an
    ssl.SSLContext) asks over TLS: the TLS client port answers the words too."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as raw:
            conn = tls.wrap_socket(raw, server_hostname=address) if tls is not None else raw
            conn.settimeout(timeout)
            conn.sendall(word.encode("ascii"))
            chunks, size = [], 0
            while size < MAX_ANSWER:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
    except ConnectionRefusedError:
        raise FourLetterWordError(f"{address}:{port} refused the connection", refused=True) from None
    except ConnectionResetError:
        # A server that is starting (or stopping) may accept and then reset.
        raise FourLetterWordError(f"{address}:{port} reset the connection", refused=True) from None
    except (socket.timeout, TimeoutError):
        raise FourLetterWordError(f"{address}:{port} did not answer within {timeout:g}s") from None
    except OSError as exc:
        # ssl is imported by whoever made ``tls``; without it no TLS error can happen (importing it costs start-up).
        if tls is not None and isinstance(exc, sys.modules["ssl"].SSLError):
            raise FourLetterWordError(f"{address}:{port}: TLS: {exc.reason or exc}") from None
        raise FourLetterWordError(f"{address}:{port}: {exc.strerror or exc}") from None
    return b"".join(chunks).decode("utf-8", "replace")


REMOTE_SCRIPT = "zk_node.py"


def remote_ask_args(port: int, words: list[str], timeout: float = ASK_TIMEOUT) -> list[str]:
    """The arguments of remote/zk_node.py ask, which asks the node's own client port and prints JSON."""
    return ["ask", str(port), f"{timeout:g}", *words]


def parse_remote_answers(output: str) -> dict[str, str | FourLetterWordError]:
    """The answers remote/zk_node.py ask printed, failures as FourLetterWordError values."""
    answers: dict[str, str | FourLetterWordError] = {}
    for word, value in json.loads(output).items():
        if isinstance(value, dict):
            answers[word] = FourLetterWordError(f"on the node: {value.get('error')}",
                                                refused=bool(value.get("refused")))
        else:
            answers[word] = value
    return answers


@dataclass(frozen=True)
class Srvr:
    """A server's answer to ``srvr``; ``mode`` is None when it is not serving (electing)."""

    mode: str | None
    zxid: int | None = None
    version: str = ""
    latency_min: int | None = None
    latency_avg: float | None = None
    latency_max: int | None = None
    received: int | None = None
    sent: int | None = None
    connections: int | None = None
    outstanding: int | None = None
    node_count: int | None = None

    @property
    def serving(self) -> bool:
        return self.mode is not None


class UnexpectedAnswer(ValueError):
    """An answer that is not what the word returns (not whitelisted, or not ZooKeeper)."""


def _check_answer(text: str, word: str) -> None:
    if NOT_WHITELISTED in text:
        raise UnexpectedAnswer(f"the server does not allow '{word}' (add it to four_letter_words)")


def parse_srvr(text: str) -> Srvr:
    """Parse ``srvr`` output; the 'not currently serving' answer gives ``mode=None``."""
    _check_answer(text, "srvr")
    if NOT_SERVING in text:
        return Srvr(mode=None)
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(": ")
        if sep:
            fields[key.strip()] = value.strip()
    if "Mode" not in fields:
        raise UnexpectedAnswer(f"not a srvr answer: {text.strip()[:80]!r}")
    lat = fields.get("Latency min/avg/max", "").split("/")
    return Srvr(
        mode=fields["Mode"],
        zxid=int(fields["Zxid"], 16) if "Zxid" in fields else None,
        version=fields.get("Zookeeper version", "").split(",")[0],
        latency_min=int(lat[0]) if len(lat) == 3 else None,
        latency_avg=float(lat[1]) if len(lat) == 3 else None,
        latency_max=int(lat[2]) if len(lat) == 3 else None,
        received=_int(fields.get("Received")),
        sent=_int(fields.get("Sent")),
        connections=_int(fields.get("Connections")),
        outstanding=_int(fields.get("Outstanding")),
        node_count=_int(fields.get("Node count")),
    )


def parse_mntr(text: str) -> dict[str, str] | None:
    """``mntr`` output as key → value (``zk_`` prefix kept); None when the server is not serving."""
    _check_answer(text, "mntr")
    if NOT_SERVING in text:
        return None
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("\t")
        if sep and key.startswith("zk_"):
            values[key] = value.strip()
    if "zk_server_state" not in values:
        raise UnexpectedAnswer(f"not a mntr answer: {text.strip()[:80]!r}")
    return values


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def format_zxid(zxid: int | None) -> str | None:
    """A zxid as ZooKeeper prints it: 0x + lowercase hex, no padding."""
    return None if zxid is None else f"0x{zxid:x}"


def zxid_epoch(zxid: int) -> int:
    """The leader epoch that issued ``zxid`` (its high 32 bits)."""
    return zxid >> 32


def zxid_counter(zxid: int) -> int:
    """The transaction count within the epoch (its low 32 bits); 0 means no write yet in that epoch."""
    return zxid & 0xFFFFFFFF
