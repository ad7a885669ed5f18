"""Draw side_by_side.py's results: clusterctl's cold bootstrap per step, and the contenders' totals, against N.

    benchmarks/.venv/bin/python benchmarks/plot_steps.py RESULTS.json OUT.png

Runs in benchmarks/.venv (matplotlib is a benchmark-only dependency); reads
nothing but the JSON.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: the plot goes to a file

import matplotlib.pyplot as plt  # noqa: E402

CONTENDER_STYLES = {"clusterctl": ("tab:blue", "o"), "pyinfra": ("tab:orange", "s"), "floor": ("tab:green", "^"),
                    "ssh-trust": ("tab:purple", "D")}
# The run log names zk-start's wait by the probes it sends.
STEP_LABELS = {"zk-status": "zk-status (zk-start waiting: srvr probes)"}
MIN_SHOWN = 0.1  # seconds: steps that never take longer are drawn as one "other steps" line


def good(runs: list[dict]) -> list[dict]:
    return [run for run in runs if not run["problems"] and run["returncode"] == 0]


def main() -> None:
    results = json.loads(Path(sys.argv[1]).read_text())
    out = Path(sys.argv[2])
    sizes = {int(n): cells for n, cells in results["sizes"].items()}
    fig, (steps_ax, totals_ax) = plt.subplots(1, 2, figsize=(13, 5.5))

    step_runs = {n: [run["steps"] for run in good(cells.get("clusterctl", {}).get("cold", []))]
                 for n, cells in sizes.items()}
    step_runs = {n: runs for n, runs in step_runs.items() if runs}
    steps = list(dict.fromkeys(step for runs in step_runs.values() for run in runs for step in run))
    medians = {step: {n: statistics.median(run.get(step, 0.0) for run in runs) for n, runs in step_runs.items()}
               for step in steps}
    shown = [step for step in steps if max(medians[step].values()) >= MIN_SHOWN]
    others = {n: sum(medians[step][n] for step in steps if step not in shown) for n in step_runs}
    cmap = plt.get_cmap("tab20")
    for i, step in enumerate(shown):
        ns = sorted(medians[step])
        steps_ax.plot(ns, [medians[step][n] for n in ns], marker="o", color=cmap(i % 20),
                      label=STEP_LABELS.get(step, step))
    if step_runs:
        ns = sorted(others)
        steps_ax.plot(ns, [others[n] for n in ns], marker=".", color="grey", linestyle=":", label="other steps")
    steps_ax.set_title("clusterctl bootstrap, cold: seconds per step (median)")
    steps_ax.set_xlabel("hosts")
    steps_ax.set_ylabel("wall seconds")
    steps_ax.set_xscale("log", base=2)
    steps_ax.set_xticks(sorted(sizes), [str(n) for n in sorted(sizes)])
    steps_ax.legend(fontsize=8, ncol=2)
    steps_ax.grid(alpha=0.3)

    for contender, (color, marker) in CONTENDER_STYLES.items():
        for kind, style in (("cold", "-"), ("noop", "--")):
            points = {n: [run["wall"] for run in good(cells.get(contender, {}).get(kind, []))]
                      for n, cells in sizes.items()}
            ns = sorted(n for n, walls in points.items() if walls)
            if not ns:
                continue
            med = [statistics.median(points[n]) for n in ns]
            low = [med[i] - min(points[n]) for i, n in enumerate(ns)]
            high = [max(points[n]) - med[i] for i, n in enumerate(ns)]
            run = "alone" if contender == "ssh-trust" else "cold" if kind == "cold" else "no-op"
            totals_ax.errorbar(ns, med, yerr=[low, high], color=color, marker=marker, linestyle=style,
                               capsize=3, label=f"{contender} {run}")
    totals_ax.set_title("whole run: median, min–max")
    totals_ax.set_xlabel("hosts")
    totals_ax.set_ylabel("wall seconds")
    totals_ax.set_xscale("log", base=2)
    totals_ax.set_yscale("log")
    totals_ax.set_xticks(sorted(sizes), [str(n) for n in sorted(sizes)])
    totals_ax.legend(fontsize=8)
    totals_ax.grid(alpha=0.3, which="both")

    m = results["machine"]
    fig.suptitle(f"{m['nproc']} cores ({m['cpu']}), {m['ram_gb']} GB, shared by controller and lab nodes; "
                 f"{results['started'][:10]}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
