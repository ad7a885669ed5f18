"""KEY=value lines, as zoo.cfg, ifcfg files and ZooKeeper's version file write them."""

from __future__ import annotations


def parse_key_values(text: str) -> dict[str, str]:
    """key → value of each KEY=value line, both stripped (comments and blank lines skipped; the last one wins)."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values
