"""A backup of the ensemble's data, as pure decisions: which server to copy from, which of its files,
and the manifest that describes the copy (and checks it later).

ZooKeeper recovers its state from the newest complete (fuzzy) snapshot and
every transaction logged after the snapshot began: the log that holds the
snapshot's zxid (the newest log starting at or before it) and all later logs
(see ZooKeeper's admin guide, "Data File Management"). Files are named by
zxid in hex: ``snapshot.<zxid>``, ``log.<first zxid>``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

from ..errors import BackupInvalid, NoQuorum, Refused
from .fourlw import format_zxid
from .status import EnsembleStatus, ServerStatus

MANIFEST = "manifest.json"
LISTING = "znodes.txt"
FILES_DIR = "version-2"
FORMAT = 1
# The servers' own bookkeeping, which a restore neither brings back nor compares.
SYSTEM_TREE = "/zookeeper"


@dataclass(frozen=True)
class DataFile:
    """One file of a server's version-2 directories, as ``zk_backup.sh list`` names it."""

    kind: str  # "snapshot" or "log"
    name: str
    size: int
    complete: bool = True  # a snapshot whose end mark is written (logs: always)

    @property
    def zxid(self) -> int:
        return int(self.name.split(".", 1)[1], 16)


def zxid_of(name: str) -> int | None:
    """The zxid in a ``snapshot.<hex>`` or ``log.<hex>`` name; None for any other name (a compressed
    snapshot's ``snapshot.<hex>.gz`` included: not handled)."""
    kind, _, rest = name.partition(".")
    if kind not in ("snapshot", "log") or not rest:
        return None
    try:
        return int(rest, 16)
    except ValueError:
        return None


def parse_listing(text: str) -> list[DataFile]:
    """``zk_backup.sh list``'s lines as files; names that are not ZooKeeper's plain ones are left out."""
    files = []
    for line in text.splitlines():
        words = line.split()
        if len(words) < 3 or words[0] not in ("snapshot", "log") or zxid_of(words[1]) is None:
            continue
        complete = words[0] == "log" or (len(words) > 3 and words[3] == "complete")
        files.append(DataFile(words[0], words[1], int(words[2]), complete))
    return files


@dataclass(frozen=True)
class Selection:
    """The files a consistent copy needs: one snapshot and the logs to replay past it, oldest first."""

    snapshot: DataFile
    logs: tuple[DataFile, ...]

    @property
    def files(self) -> list[DataFile]:
        return [self.snapshot, *self.logs]

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


def needed_files(files: Iterable[DataFile]) -> Selection:
    """ZooKeeper's rule (pure): the newest complete snapshot, the newest log starting at or before its
    zxid, and every later log. BackupInvalid when there is no complete snapshot."""
    files = list(files)
    snapshots = sorted((f for f in files if f.kind == "snapshot" and f.complete), key=lambda f: f.zxid)
    if not snapshots:
        raise BackupInvalid("no complete snapshot in the server's data directory: ZooKeeper writes one "
                            "when a server joins its leader; nothing to copy")
    snapshot = snapshots[-1]
    logs = sorted((f for f in files if f.kind == "log"), key=lambda f: f.zxid)
    before = [f for f in logs if f.zxid <= snapshot.zxid]
    first = logs.index(before[-1]) if before else 0
    return Selection(snapshot, tuple(logs[first:]))


def choose_source(status: EnsembleStatus, allowed: Iterable[str] | None = None) -> ServerStatus:
    """The server to copy from (pure): one that serves under the leader, so its data is the ensemble's;
    an observer first, then a follower (the smallest zxid lag, then inventory order), the leader only
    when no other serves. ``allowed`` (--hosts) narrows the choice. NoQuorum without a leader."""
    if not status.settled:
        raise NoQuorum(f"no backup without a quorum: {status.quorum.describe()} (a server out of the quorum "
                       f"may hold stale data)")
    leader = status.leader
    allowed = None if allowed is None else set(allowed)
    candidates = [s for s in status.servers if s.serving and (allowed is None or s.host in allowed)]
    if not candidates:
        raise Refused(f"no serving server among {', '.join(sorted(allowed or []))} to copy from")
    rank = {"observer": 0, "follower": 1}

    def order(server: ServerStatus) -> tuple:
        lag = (leader.zxid or 0) - (server.zxid or 0) if leader.zxid is not None else 0
        return rank.get(server.role, 2), max(lag, 0)

    return min(candidates, key=order)  # min is stable: inventory order breaks ties


@dataclass(frozen=True)
class FileEntry:
    kind: str
    name: str
    size: int
    sha256: str


@dataclass
class Manifest:
    """What a backup holds and where it came from; written last, so a directory without it is no backup."""

    cluster: str
    server: str
    servers: dict[str, int]  # the ensemble the copy was taken from: host → id
    zookeeper_version: str
    taken_at: str
    snapshot_zxid: str
    last_zxid: str
    znodes: int
    files: list[FileEntry] = field(default_factory=list)
    listing: FileEntry | None = None
    format: int = FORMAT

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def to_json(self) -> str:
        data = asdict(self)
        data["zxid_range"] = {"from": data.pop("snapshot_zxid"), "to": data.pop("last_zxid")}
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str = MANIFEST) -> Manifest:
        try:
            data = json.loads(text)
            if data.get("format") != FORMAT:
                raise BackupInvalid(f"{where}: format {data.get('format')!r}, this clusterctl reads {FORMAT}")
            zxids = data.pop("zxid_range")
            files = [FileEntry(**f) for f in data.pop("files")]
            listing = data.pop("listing")
            return cls(snapshot_zxid=zxids["from"], last_zxid=zxids["to"], files=files,
                       listing=FileEntry(**listing) if listing else None, **data)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupInvalid(f"{where}: not a clusterctl backup manifest ({type(exc).__name__}: {exc})") from None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def local_path(backup: Path, entry: FileEntry) -> Path:
    return backup / FILES_DIR / entry.name


def problems(backup: Path, manifest: Manifest) -> list[str]:
    """Each file of ``manifest`` missing, of another size or sha256 under ``backup`` (empty: intact)."""
    found = []
    entries = [(local_path(backup, f), f) for f in manifest.files]
    if manifest.listing is not None:
        entries.append((backup / manifest.listing.name, manifest.listing))
    for path, entry in entries:
        if not path.is_file():
            found.append(f"{path}: missing")
        elif path.stat().st_size != entry.size:
            found.append(f"{path}: {path.stat().st_size} bytes, the manifest says {entry.size}")
        elif file_sha256(path) != entry.sha256:
            found.append(f"{path}: sha256 differs from the manifest's")
    return found


def load_backup(backup: Path) -> Manifest:
    """The manifest of the backup at ``backup``, every file checked against it; BackupInvalid otherwise."""
    path = backup / MANIFEST
    if not path.is_file():
        raise BackupInvalid(f"{backup}: no {MANIFEST}: not a backup clusterctl finished (an interrupted one "
                            f"leaves its files in a .partial directory)")
    manifest = Manifest.from_json(path.read_text(), str(path))
    bad = problems(backup, manifest)
    if bad:
        raise BackupInvalid(f"{backup}: damaged: " + "; ".join(bad[:3]) + (f" (and {len(bad) - 3} more)"
                                                                            if len(bad) > 3 else ""))
    return manifest


@dataclass(frozen=True)
class Loaded:
    """What the offline load of a copy reported: the last zxid and the number of znodes."""

    zxid: int
    count: int


def split_load_output(lines: Iterable[str], listing) -> Loaded:
    """Write ``node`` lines of the loader's output to ``listing`` (a text file), return its summary.
    BackupInvalid when the summary lines are missing (the load did not finish)."""
    zxid = count = None
    for line in lines:
        if line.startswith("node "):
            listing.write(line[5:])
        elif line.startswith("zxid "):
            zxid = int(line.split()[1], 16)
        elif line.startswith("count "):
            count = int(line.split()[1])
    if zxid is None or count is None:
        raise BackupInvalid("the offline load of the copy did not finish (no zxid and count from it)")
    return Loaded(zxid, count)


@dataclass(frozen=True)
class Listed:
    """A znode as a backup's listing has it: the sha256 of its data and its ACL (``acl_text``'s form; None in
    a listing written before ACLs were listed)."""

    digest: str
    acl: str | None = None


def acl_text(entries: Iterable[tuple[int, str, str]]) -> str:
    """An ACL as the listing holds it: one ``perms:scheme:id`` line per (perms, scheme, id) entry, in order."""
    return "".join(f"{perms}:{scheme}:{ident}\n" for perms, scheme, ident in entries)


def read_listing(path: Path) -> dict[str, Listed]:
    """path → its data's sha256 and its ACL, from a backup's listing, without the servers' own /zookeeper tree."""
    znodes = {}
    with open(path) as fh:
        for line in fh:
            encoded, digest, *acl = line.split()
            name = base64.b64decode(encoded).decode()
            if name != SYSTEM_TREE and not name.startswith(SYSTEM_TREE + "/"):
                znodes[name] = Listed(digest, base64.b64decode(acl[0]).decode() if acl else None)
    return znodes


def masked(acl: str) -> str:
    """``acl`` as ZooKeeper shows it to a client without ADMIN on the znode: each digest id's hash as ``x``."""
    lines = []
    for line in acl.splitlines():
        perms, scheme, ident = line.split(":", 2)
        lines.append(f"{perms}:{scheme}:{ident.split(':', 1)[0]}:x" if scheme == "digest" else line)
    return "".join(line + "\n" for line in lines)


def compare(expected: dict[str, Listed], found: dict[str, Listed | None], *, digests_masked: bool = False) -> list[str]:
    """The znodes of ``expected`` that do not read back with the same data and ACL (``found``: path → what
    was read, None where there is no such znode; ``digests_masked``: it was read without the super user, so
    digest ids came back masked), each said in a few words (pure)."""
    out = []
    for path, listed in expected.items():
        got = found.get(path)
        acl = masked(listed.acl) if digests_masked and listed.acl else listed.acl
        if got is None:
            out.append(f"{path}: missing")
        elif got.digest != listed.digest:
            out.append(f"{path}: other data")
        elif acl is not None and got.acl != acl:
            out.append(f"{path}: other ACL ({got.acl.strip() or 'none'} instead of {acl.strip() or 'none'})"
                       .replace("\n", ", "))
    return out


def epoch_of(zxid: str) -> int:
    """The epoch of a zxid as a manifest writes it (``0x…``): its high 32 bits."""
    return int(zxid, 16) >> 32


def describe_zxid(zxid: int) -> str:
    return format_zxid(zxid) or ""
