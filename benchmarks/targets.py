"""The performance targets, judged from a side-by-side result (side_by_side.py's JSON), and the README's block.

    .venv/bin/python benchmarks/targets.py docs/bootstrap-side-by-side.json          # print the block
    .venv/bin/python benchmarks/targets.py docs/bootstrap-side-by-side.json --readme README.md  # and put it there

side_by_side.py calls :func:`update_readme` itself after every run, so no figure in the README's
performance block is typed by hand: each comes from the JSON, with the date, the commit, the machine's
cores and its load, and each target says met or missed with the measured ratio. Pure but for main().
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

BEGIN = "<!-- performance: written by benchmarks/targets.py from the side-by-side JSON; do not edit -->"
END = "<!-- performance: end -->"

# (what, N, the contender and kind of run, the figure, the limit, how the figure is made from the runs)
NOOP_LIMITS = {4: 0.8, 16: 1.2, 64: 2.5}  # s, a second bootstrap on a converged cluster
COLD_FLOOR_RATIO = 1.1  # clusterctl's cold bootstrap against the by-hand floor, at 4 and 16 nodes
TRUST_CPU_PER_HOST = 0.025  # s of controller CPU per host, ssh-trust
NOOP_CPU_PER_HOST = 0.015  # s of controller CPU per host, no-op
TRUST_NODE_CPU = 0.15  # s of CPU per node, ssh-trust, every process of the nodes
PEAK_RSS_MB = 150  # the controller's, at 256 hosts


def _good(runs: list[dict]) -> list[dict]:
    return [run for run in runs if not run.get("problems") and run.get("returncode") == 0]


def _median(results: dict, n: int, contender: str, kind: str, field: str) -> float | None:
    cell = results["sizes"].get(str(n), {}).get(contender)
    values = [run[field] for run in _good(cell[kind]) if field in run] if isinstance(cell, dict) else []
    return statistics.median(values) if values else None


def _verdict(value: float | None, limit: float) -> str:
    if value is None:
        return "not measured"
    return f"{'met' if value <= limit else 'missed'} ({value / limit:.2f}× the limit)"


def target_rows(results: dict) -> list[tuple[str, str, str]]:
    """(target, what was measured, met/missed) for every target the result has figures for, or says not."""
    rows = []
    for n, limit in NOOP_LIMITS.items():
        wall = _median(results, n, "clusterctl", "noop", "wall")
        pyinfra = _median(results, n, "pyinfra", "noop", "wall")
        measured = "—" if wall is None else f"{wall:.2f} s" + (f" (pyinfra {pyinfra:.2f} s)" if pyinfra else "")
        rows.append((f"no-op ≤ {limit} s at {n} nodes", measured, _verdict(wall, limit)))
    for n in (4, 16):
        cold = _median(results, n, "clusterctl", "cold", "wall")
        floor = _median(results, n, "floor", "cold", "wall")
        ratio = cold / floor if cold and floor else None
        measured = "—" if ratio is None else f"{ratio:.2f}× ({cold:.1f} s vs {floor:.1f} s)"
        rows.append((f"cold ≤ {COLD_FLOOR_RATIO}× the floor at {n} nodes", measured,
                     _verdict(ratio, COLD_FLOOR_RATIO)))
    for n in sorted(int(k) for k in results["sizes"]):
        nodes = _median(results, n, "ssh-trust", "cold", "nodes_cpu")
        per_node = nodes / n if nodes is not None else None
        rows.append((f"ssh-trust nodes' CPU ≤ {TRUST_NODE_CPU} s per node at {n}",
                     "—" if per_node is None else f"{per_node:.2f} s ({nodes:.1f} s in all)",
                     _verdict(per_node, TRUST_NODE_CPU)))
    # The controller's cost per host, at the sizes the targets name (at 4 hosts start-up is most of it):
    # the whole run's CPU over the hosts, start-up included.
    for n in (64, 256):
        for contender, kind, limit in (("ssh-trust", "cold", TRUST_CPU_PER_HOST),
                                       ("clusterctl", "noop", NOOP_CPU_PER_HOST)):
            cpu = _median(results, n, contender, kind, "cpu")
            what = "ssh-trust" if contender == "ssh-trust" else "no-op"
            rows.append((f"{what} controller CPU ≤ {limit * 1000:.0f} ms per host at {n}",
                         "—" if cpu is None else f"{cpu / n * 1000:.0f} ms ({cpu:.2f} s)",
                         _verdict(None if cpu is None else cpu / n, limit)))
    rss = _median(results, 256, "ssh-trust", "cold", "peak_rss_mb")
    rows.append((f"controller peak RSS ≤ {PEAK_RSS_MB} MB at 256 hosts",
                 "—" if rss is None else f"{rss:.0f} MB", _verdict(rss, PEAK_RSS_MB)))
    return rows


def _loads(results: dict) -> str:
    loads = [run[key] for cells in results["sizes"].values() for cell in cells.values() if isinstance(cell, dict)
             for kind in ("cold", "noop") for run in cell.get(kind, []) for key in ("load_before", "load_after")
             if key in run]
    return f"{min(loads):.1f}–{max(loads):.1f}" if loads else "not recorded"


def _ran(sizes_run: dict[str, list[str]]) -> str:
    """"ssh-trust at 64, 256" from {size: contenders} of one session."""
    by_contender: dict[str, list[str]] = {}
    for n, contenders in sizes_run.items():
        for contender in contenders:
            by_contender.setdefault(contender, []).append(n)
    return "; ".join(f"{c} at {', '.join(ns)}" for c, ns in by_contender.items())


def readme_block(results: dict) -> str:
    """The README's performance block: the conditions, then one row per target."""
    machine = results.get("machine", {})
    repeat = results.get("repeat", 1)
    sessions = results.get("sessions") or [results]  # several when side_by_side --tables-only pooled them
    when = "; ".join(f"{s.get('started', '?')[:16].replace('T', ' ')} to {(s.get('finished') or '?')[11:16]} UTC "
                     f"with the code of {(s.get('commit') or '?').split(' ', 1)[0]}, {s.get('init') or 'systemd'} "
                     f"nodes" + (f" ({_ran(s['sizes_run'])})" if s.get("sizes_run") else "") for s in sessions)
    lines = [BEGIN, "",
             f"Measured {when}, on {machine.get('nproc', '?')} cores ({machine.get('cpu', '?')}, "
             f"{machine.get('ram_gb', '?')} GB), 1-minute load {_loads(results)} during the runs; medians of up to "
             f"{repeat} cold run(s) and "
             f"{results.get('noops', '?')} no-op runs each (`benchmarks/side_by_side.py`, sizes "
             f"{', '.join(results['sizes'])}).", "",
             "| target | measured | |", "|---|---|---|"]
    lines += [f"| {target} | {measured} | {verdict} |" for target, measured, verdict in target_rows(results)]
    return "\n".join(lines + ["", END])


def update_readme(readme: str, block: str) -> str:
    """``readme`` with its performance block replaced by ``block`` (it must have exactly one)."""
    if readme.count(BEGIN) != 1 or readme.count(END) != 1:
        raise ValueError(f"the README must hold the performance block once, between {BEGIN!r} and {END!r}")
    head, rest = readme.split(BEGIN)
    return head + block + rest.split(END, 1)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a side_by_side.py JSON")
    parser.add_argument("--readme", type=Path, help="put the block into this README")
    args = parser.parse_args()
    block = readme_block(json.loads(args.results.read_text()))
    print(block)
    if args.readme:
        args.readme.write_text(update_readme(args.readme.read_text(), block))


if __name__ == "__main__":
    main()
