"""The script a host runs to receive one file, and what it reports back.

It takes the bytes (on stdin from the controller or the previous host of a
pipeline, or fetched from a host that holds a verified copy), writes them
under a hidden part name beside the target, passes them on to the next host
of a pipeline, hashes what it wrote and renames it into place only if the
hash is the one expected. Each host prints one report line; a pipeline's
reports all come back on the controller's one channel.

The script (remote/receive.sh) carries its own code (base64) down a
pipeline, so nothing is installed on the hosts and no quoting nests.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Sequence

from .. import remote
from ..errors import TransferError

_TOKEN = re.compile(r"[A-Za-z0-9_.+-]+")
_RESULT = "clusterctl-transfer"


@dataclass(frozen=True)
class RemotePaths:
    """Where one file is staged on every host."""

    stage_dir: str
    name: str

    def __post_init__(self) -> None:
        # These go unquoted through nested shells (controller → host → next host).
        if not _TOKEN.fullmatch(self.name):
            raise TransferError(f"cannot stage {self.name!r}: file names may hold letters, digits and ._+- only")
        if not self.stage_dir.startswith("/") or not all(_TOKEN.fullmatch(p) for p in self.stage_dir.split("/")[1:]):
            raise TransferError(f"cannot stage into {self.stage_dir!r}: use an absolute path of letters, "
                                "digits and ._+-")

    @property
    def final(self) -> str:
        return f"{self.stage_dir}/{self.name}"

    @property
    def part(self) -> str:
        # One fixed name, not one per run: a crashed copy's leftover is overwritten, not piled up.
        return f"{self.stage_dir}/.{self.name}.clusterctl-part"

    @property
    def stamp(self) -> str:
        return f"{self.final}.sha256"

    @property
    def fact_name(self) -> str:
        return "staged." + re.sub(r"[^\w.-]", "_", self.final.strip("/"))


SCRIPT = "receive.sh"
# The key exchanges node-to-node SSH offers, curve25519 first: the controller's own (paramiko)
# connections use it too, and OpenSSH 9's post-quantum default costs about a CPU-second more per
# connection, paid N times by a pipeline and N times by the trust check.
NODE_KEX = ("curve25519-sha256,curve25519-sha256@libssh.org,sntrup761x25519-sha512@openssh.com,"
            "ecdh-sha2-nistp256,diffie-hellman-group14-sha256")


def _code() -> str:
    """receive.sh in base64: what a host passes on to the next one of a pipeline, ahead of the bytes."""
    return base64.b64encode(remote.load(SCRIPT).text).decode()


def receive_args(remote_paths: RemotePaths, sha256: str, mode: str, *hosts: str) -> list[str]:
    """The positional arguments of receive.sh for ``mode`` (recv, pull or probe) and its hosts."""
    for token in hosts:
        if not all(_TOKEN.fullmatch(part) for part in token.split("@")):
            raise TransferError(f"cannot address {token!r} between hosts")
    return [_code(), NODE_KEX, remote_paths.stage_dir, remote_paths.name, sha256, mode, *hosts]


def probe_args(target: str) -> list[str]:
    """The arguments of receive.sh that check (and open, for a while) a login to ``target``."""
    return [_code(), NODE_KEX, "-", "-", "-", "probe", target]


@dataclass(frozen=True)
class HostReport:
    """One line a host's script printed: ``ok``, ``failed`` (detail: why) or ``forward-failed`` (detail: next, why)."""

    host: str
    verdict: str
    detail: str = ""


def parse_reports(output: str) -> list[HostReport]:
    """The report lines in a host script's output (a pipeline's carries every host's)."""
    reports = []
    for line in output.splitlines():
        fields = line.split(" ", 3)
        if len(fields) >= 3 and fields[0] == _RESULT:
            reports.append(HostReport(fields[1], fields[2], fields[3] if len(fields) > 3 else ""))
    return reports


def chain_outcomes(chain: Sequence[str], reports: list[HostReport], broken: str = "") -> dict[str, str | None]:
    """host → None when its copy is verified, else why not, for every host of a pipeline ``chain`` (pure).

    A host that sent no report never got the whole stream: its reason names
    the host before it that could not pass the stream on, when one said so.
    """
    verdicts = {r.host: r for r in reports if r.verdict in ("ok", "failed")}
    forwards = {r.host: r.detail for r in reports if r.verdict == "forward-failed"}
    reasons: dict[str, str | None] = {}
    cause = broken or "the stream broke before it arrived"
    for host in chain:
        report = verdicts.get(host)
        if report is None:
            reasons[host] = f"no verified copy: {cause}"
        else:
            reasons[host] = None if report.verdict == "ok" else report.detail
            cause = f"the stream broke after {host}"
        if host in forwards:
            nxt, _, why = forwards[host].partition(" ")
            cause = f"{host} could not pass it on to {nxt}: {why}"
    return reasons
