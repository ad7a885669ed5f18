"""The README's performance block is the benchmark's own writing: made from the stored side-by-side JSON by
benchmarks/targets.py, each target met or missed by the measured ratio, nothing typed by hand."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

import targets  # noqa: E402


def stored() -> dict:
    return json.loads((REPO / "docs" / "bootstrap-side-by-side.json").read_text())


def test_the_readme_block_is_what_the_stored_result_makes():
    readme = (REPO / "README.md").read_text()
    assert targets.update_readme(readme, targets.readme_block(stored())) == readme


def result(noop_wall: float, cold: float, floor: float) -> dict:
    def runs(**fields):
        return [{"returncode": 0, "problems": [], **fields}]
    return {"machine": {"nproc": 2}, "started": "2026-12-03T10:00:00", "finished": "2026-12-03T10:30:00",
            "commit": "abc1234 message", "repeat": 1, "noops": 3, "sizes": {
                "4": {"clusterctl": {"cold": runs(wall=cold), "noop": runs(wall=noop_wall, load_before=1.0,
                                                                            load_after=2.0)},
                      "floor": {"cold": runs(wall=floor), "noop": []},
                      "ssh-trust": {"cold": runs(cpu=1.0, nodes_cpu=0.4), "noop": []}}}}


def test_met_and_missed_carry_the_ratio_and_unmeasured_targets_say_so():
    rows = {target: (measured, verdict) for target, measured, verdict in targets.target_rows(result(0.6, 11, 10))}
    assert rows["no-op ≤ 0.8 s at 4 nodes"] == ("0.60 s", "met (0.75× the limit)")
    assert rows["cold ≤ 1.1× the floor at 4 nodes"] == ("1.10× (11.0 s vs 10.0 s)", "met (1.00× the limit)")
    assert rows["ssh-trust nodes' CPU ≤ 0.15 s per node at 4"] == ("0.10 s (0.4 s in all)", "met (0.67× the limit)")
    assert rows["no-op ≤ 1.2 s at 16 nodes"] == ("—", "not measured")
    missed = {t: v for t, _, v in targets.target_rows(result(1.6, 13, 10))}
    assert missed["no-op ≤ 0.8 s at 4 nodes"] == "missed (2.00× the limit)"


def test_the_block_names_the_conditions_and_replaces_only_itself():
    block = targets.readme_block(result(0.6, 11, 10))
    assert "abc1234" in block and "2 cores" in block and "load 1.0–2.0" in block
    text = f"before\n{targets.BEGIN}\nold\n{targets.END}\nafter\n"
    assert targets.update_readme(text, block) == f"before\n{block}\nafter\n"
    with pytest.raises(ValueError):
        targets.update_readme("no block here", block)
