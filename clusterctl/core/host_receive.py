"""The script a host runs to receive one file, and what it reports back.

It takes the bytes (on stdin from the controller or the previous host of a
pipeline, or fetched from a host that holds a verified copy), writes them
under a hidden part name beside the target, passes them on to the next host
of a pipeline, hashes what it wrote and renames it into place only if the
hash is the one expected. Each host prints one report line; a pipeline's
reports all come back on the controller's one channel.

The script carries its own code (base64) down a pipeline, so nothing is
installed on the hosts and no quoting nests.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Sequence

from ..errors import ClusterctlError

_TOKEN = re.compile(r"[A-Za-z0-9_.+-]+")
_RESULT = "clusterctl-transfer"


class TransferError(ClusterctlError):
    """A host did not end up with a verified copy."""


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


# Run with bash on a host; arguments: DIR NAME SHA256 MODE ...
#   recv SELF [NEXT...]  bytes on stdin, written here and passed on to NEXT (which gets the rest of the chain)
#   pull SOURCE SELF     bytes fetched from SOURCE's verified copy
# Every host reports one line "clusterctl-transfer HOST ok|failed REASON|forward-failed NEXT REASON" on stdout.
_HOST_SCRIPT = r"""
set -u
code=$1 dir=$2 name=$3 want=$4 mode=$5; shift 5
final=$dir/$name part=$dir/.$name.clusterctl-part stamp=$dir/$name.sha256
if [ "$(id -u)" = 0 ]; then as_root=; else as_root="sudo -n"; fi
ssh_opts=(@NODE_SSH_OPTIONS@)
err=$(mktemp) && trap 'rm -f "$err"' EXIT
report() { printf 'clusterctl-transfer %s %s\n' "${self#*@}" "$*"; }
last_error() { e=$(tail -n 1 "$err" | tr -d '\r'); echo "${e:-connection lost}"; }
hash_of() {  # openssl uses the CPU's SHA instructions; coreutils' sha256sum is often 5x slower
  if command -v openssl >/dev/null; then $as_root openssl dgst -sha256 -r "$1"; else $as_root sha256sum "$1"; fi
}
keep_if_verified() {
  got=$(hash_of "$part" 2>/dev/null); got=${got%% *}
  if [ "$got" != "$want" ]; then
    $as_root rm -f "$part"
    report failed "hash mismatch after copy (got ${got:-nothing}, ${1:-the stream ended early?})"
  elif $as_root sh -c 'rm -f "$3" && mv -f "$1" "$2" && printf "%s  %s\n" "$4" "$5" > "$3.tmp" &&
                       touch -r "$2" "$3.tmp" && mv -f "$3.tmp" "$3"' _ "$part" "$final" "$stamp" "$want" "$name"; then
    report ok
  else
    report failed "could not rename the verified copy to $final"
  fi
}
case $mode in
recv)
  self=$1; shift
  if $as_root mkdir -p "$dir" && $as_root sh -c ': > "$1"' _ "$part"; then sink=$part; else sink=/dev/null; fi
  if [ $# -gt 0 ]; then
    next=$1; shift
    $as_root tee -p "$sink" | ssh "${ssh_opts[@]}" "$next" \
      "bash -c \"\$(echo $code | base64 -d)\" clusterctl-transfer $code $dir $name $want recv $next $*" 2>"$err"
    status=("${PIPESTATUS[@]}")
    [ "${status[1]}" = 0 ] || report forward-failed "${next#*@}" "$(last_error) (ssh exit ${status[1]})"
  else
    $as_root tee "$sink" >/dev/null
    status=($?)
  fi
  if [ "$sink" = /dev/null ]; then report failed "cannot write $part"
  elif [ "${status[0]}" != 0 ]; then $as_root rm -f "$part"; report failed "writing $part failed (disk full?)"
  else keep_if_verified
  fi
  ;;
pull)
  source=$1 self=$2
  if ! $as_root mkdir -p "$dir"; then report failed "cannot create $dir"; exit 0; fi
  ssh -n "${ssh_opts[@]}" "$source" "cat $final" 2>"$err" | $as_root sh -c 'cat > "$1"' _ "$part"
  status=("${PIPESTATUS[@]}")
  if [ "${status[0]}" != 0 ]; then
    $as_root rm -f "$part"; report failed "could not fetch from ${source#*@}: $(last_error) (ssh exit ${status[0]})"
  else keep_if_verified "copied from ${source#*@}"
  fi
  ;;
esac
exit 0
"""
# Between hosts: never prompt, pin host keys (ssh-trust wrote them), notice a dead peer within
# half a minute, prefer the cipher with hardware support, and share one connection per pair
# (ControlMaster): the trust probe opens it, so a pipeline's hops start without a handshake each.
# Key exchange: curve25519, as the controller's own (paramiko) connections use; OpenSSH 9's default
# post-quantum hybrid costs about 1 CPU-second more per connection, paid N times per pipeline.
NODE_KEX_OPTION = ("-o KexAlgorithms=curve25519-sha256,curve25519-sha256@libssh.org,"
                   "sntrup761x25519-sha512@openssh.com,ecdh-sha2-nistp256,diffie-hellman-group14-sha256")
NODE_SSH_OPTIONS = ("-o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=10 "
                    "-o ServerAliveInterval=5 -o ServerAliveCountMax=6 -o LogLevel=ERROR "
                    f"{NODE_KEX_OPTION} "
                    "-o Ciphers=aes128-gcm@openssh.com,chacha20-poly1305@openssh.com,aes128-ctr "
                    "-o ControlMaster=auto -o ControlPath=~/.ssh/clusterctl-mux-%C -o ControlPersist=30")
_HOST_SCRIPT_B64 = base64.b64encode(_HOST_SCRIPT.replace("@NODE_SSH_OPTIONS@", NODE_SSH_OPTIONS).encode()).decode()


def host_command(remote: RemotePaths, sha256: str, mode: str, *hosts: str) -> str:
    """The command line that runs the host script; it carries its own code to pass on down a chain."""
    for token in hosts:
        if not all(_TOKEN.fullmatch(part) for part in token.split("@")):
            raise TransferError(f"cannot address {token!r} between hosts")
    args = " ".join([remote.stage_dir, remote.name, sha256, mode, *hosts])
    return (f"bash -c \"$(echo {_HOST_SCRIPT_B64} | base64 -d)\" {_RESULT} "
            f"{_HOST_SCRIPT_B64} {args}")


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
