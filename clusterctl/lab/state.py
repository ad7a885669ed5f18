"""What a lab records about itself in its state directory, so a later process can find it again."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

STATE_FILE = "lab.json"


@dataclass(frozen=True)
class LabRecord:
    name: str
    subnet: str
    nodes: tuple[str, ...]
    disk_size: str
    lab_key_authorized: bool


def write_record(state_dir: Path, record: LabRecord) -> None:
    """Write ``record`` atomically, so a reader never sees half a file."""
    partial = state_dir / (STATE_FILE + ".partial")
    partial.write_text(json.dumps(asdict(record), indent=2) + "\n")
    partial.rename(state_dir / STATE_FILE)


def read_record(state_dir: Path) -> LabRecord | None:
    """The lab's record, or None if the lab never got that far (or its state is unreadable)."""
    try:
        data = json.loads((state_dir / STATE_FILE).read_text())
        return LabRecord(name=data["name"], subnet=data["subnet"], nodes=tuple(data["nodes"]),
                         disk_size=data["disk_size"], lab_key_authorized=bool(data["lab_key_authorized"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
