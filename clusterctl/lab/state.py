"""What a lab records about itself in its state directory, so a later process can find it again."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .lab_user import LabUser, SudoRights

STATE_FILE = "lab.json"


@dataclass(frozen=True)
class LabRecord:
    name: str
    subnet: str
    nodes: tuple[str, ...]
    disk_size: str  # what a node's disk holds unless disk_sizes says otherwise
    lab_key_authorized: bool
    init: str = "none"  # how every node boots, at up and at each start or reboot (a NodeInit value)
    disk_sizes: dict[str, str] = field(default_factory=dict)  # node -> size, where not disk_size
    user: LabUser | None = None  # the login user on every machine; then root logs in over SSH on no node
    bastion: bool = False  # whether the nodes are reached through a bastion

    def disk_size_of(self, node: str) -> str:
        return self.disk_sizes.get(node, self.disk_size)


def shape_differences(existing: LabRecord, wanted: LabRecord) -> list[str]:
    """How the lab that is up differs from the one asked for, one phrase each (none if it is the same shape)."""
    differences = []
    if existing.nodes != wanted.nodes:
        differences.append(f"{len(existing.nodes)} nodes, not {len(wanted.nodes)}")
    if existing.subnet != wanted.subnet:
        differences.append(f"subnet {existing.subnet}, not {wanted.subnet}")
    if existing.init != wanted.init:
        differences.append(f"init {existing.init}, not {wanted.init}")
    for node in (existing.nodes if existing.nodes == wanted.nodes else ()):
        has, asked = existing.disk_size_of(node).lower(), wanted.disk_size_of(node).lower()
        if has != asked:
            differences.append(f"{node} disk {has}, not {asked}")
    if existing.lab_key_authorized != wanted.lab_key_authorized:
        differences.append("lab key " + ("authorized" if existing.lab_key_authorized else "not authorized"))
    if existing.user != wanted.user:
        differences.append(f"user {existing.user or 'none'}, not {wanted.user or 'none'}")
    if existing.bastion != wanted.bastion:
        differences.append("a bastion" if existing.bastion else "no bastion")
    return differences


def write_record(state_dir: Path, record: LabRecord) -> None:
    """Write ``record`` atomically, so a reader never sees half a file."""
    partial = state_dir / (STATE_FILE + ".partial")
    partial.write_text(json.dumps(asdict(record), indent=2) + "\n")
    partial.rename(state_dir / STATE_FILE)


def read_record(state_dir: Path) -> LabRecord | None:
    """The lab's record, or None if the lab never got that far (or its state is unreadable).

    A record written before nodes could boot systemd, have disks of their
    own sizes, a login user or a bastion reads as what those labs were:
    minimal init, one disk size, root only, no bastion.
    """
    try:
        data = json.loads((state_dir / STATE_FILE).read_text())
        user = data.get("user")
        return LabRecord(name=data["name"], subnet=data["subnet"], nodes=tuple(data["nodes"]),
                         disk_size=data["disk_size"], lab_key_authorized=bool(data["lab_key_authorized"]),
                         init=data.get("init", "none"), disk_sizes=dict(data.get("disk_sizes", {})),
                         user=LabUser(user["name"], SudoRights(user["sudo"])) if user else None,
                         bastion=bool(data.get("bastion", False)))
    except (OSError, ValueError, KeyError, TypeError):
        return None
