"""Bootstrap side by side on the same fresh labs: clusterctl, the same job in pyinfra, and the floor.

    .venv/bin/python benchmarks/side_by_side.py                          # N = 4 16 64, one cold run each
    .venv/bin/python benchmarks/side_by_side.py --sizes 4 16 --repeat 3  # three cold runs per cell

For every N and every repeat, each contender gets a lab of its own, brought
up fresh (bare nodes, empty known_hosts) and taken down after it:

- ``ssh-trust``: ``clusterctl ssh-trust`` alone (key pairs, authorized_keys,
  known_hosts, /etc/hosts, and its proof);
- ``clusterctl``: ``clusterctl bootstrap`` cold, then ``--noops`` no-op runs;
- ``pyinfra``: benchmarks/peers/pyinfra_runbook/deploy.py (pyinfra 3.10, from
  benchmarks/.venv) cold, then the same number of no-op runs;
- ``floor``: benchmarks/floor.py cold (the unavoidable work by hand), then
  ``floor.py --noop`` (one look per node).

All of them do the runbook's job with the JDK tarball (the one JDK package
all three unpack the same way) and ZooKeeper on node2..nodeN with
``--heap-mb`` heaps. A run counts only if it exits 0 and the lab then passes
benchmarks/end_state.py (checked outside the clock); otherwise the cell
says what failed. Each run's wall time, its CPU seconds and peak RSS (the
child's, from wait4), the 1-minute load before and after, and the memory
the lab took are kept; clusterctl's run logs give each step's time
(run_log_spans.py). Before a size whose labs would not fit in memory (an
estimate from the sizes measured before it), or whose systemd nodes would
not get their inotify instances, the runs are skipped and the table says
so; a run during which MemAvailable falls below 1.5 GB is killed (the
machine's memory is shared with other people's work). A contender whose
cold run failed at a size is not tried again at that size.

Prints markdown tables, writes the raw numbers as JSON (``--json``), the
README's block of targets met or missed (``--readme``, benchmarks/targets.py) and
draws the per-step plot (``--plot``, with plot_steps.py in benchmarks/.venv,
made from benchmarks/requirements.txt if missing). Needs root and the
artifacts (``clusterctl artifacts --out artifacts``). Uses lab ``tbside``
on 10.231.148.0/23 (room for 256 nodes) and always takes it down.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clusterctl.lab import Lab, LabError  # noqa: E402
from clusterctl.lab.artifacts import ensure_artifacts  # noqa: E402
from clusterctl.lab.node_cgroup import cgroup2_mount  # noqa: E402
from clusterctl.lab.runbook import render_runbook_sections  # noqa: E402

from end_state import check_end_state, check_trust  # noqa: E402
from targets import readme_block, update_readme  # noqa: E402
from measure import (Measured, background_load, lab_memory_gb, load_average, machine,  # noqa: E402
                     mem_available_bytes, run_measured)
from peers.pyinfra_runbook.make_inventory import render_inventory  # noqa: E402
from run_log_spans import failures, logged_seconds, spans_of  # noqa: E402
from runbook_job import load_job  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
BENCH_VENV = BENCH / ".venv"
PYINFRA_DEPLOY = BENCH / "peers" / "pyinfra_runbook"
LAB_NAME, LAB_SUBNET = "tbside", "10.231.148.0/23"
CONTENDERS = ("ssh-trust", "clusterctl", "pyinfra", "floor")
# Memory a node takes when its cold run is done, until a smaller size has been measured:
# 193 MB of JDK and 76 MB of staged tarballs on its tmpfs disk, a ZooKeeper JVM, systemd.
DEFAULT_NODE_GB = {"ssh-trust": 0.06, "clusterctl": 0.45, "pyinfra": 0.40, "floor": 0.40}
MEMORY_RESERVE_GB = 2.0  # left for everyone else on the machine
LAB_UP_ATTEMPTS = 3
# A node booting systemd holds this many inotify instances (systemd, dbus-daemon, logind; counted
# here), and they all count against root's fs.inotify.max_user_instances, shared by every lab.
INOTIFY_PER_SYSTEMD_NODE = 7


def inotify_instances() -> tuple[int, int]:
    """(fs.inotify.max_user_instances, inotify instances open now on this machine)."""
    limit = int(Path("/proc/sys/fs/inotify/max_user_instances").read_text())
    in_use = 0
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            in_use += sum(1 for fd in fd_dir.iterdir() if os.readlink(fd) == "anon_inode:inotify")
        except OSError:
            continue  # a process that ended meanwhile, or a descriptor closed under us
    return limit, in_use


def bench_python() -> Path:
    """benchmarks/.venv's python, with pyinfra and matplotlib; made on first use."""
    python = BENCH_VENV / "bin" / "python"
    if not (BENCH_VENV / "bin" / "pyinfra").exists():
        subprocess.run(["python3", "-m", "venv", str(BENCH_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(BENCH / "requirements.txt")], check=True)
    return python


@contextmanager
def fresh_lab(n: int, heap_mb: int, artifacts: dict[str, Path], init: str) -> Iterator[tuple[Lab, Path, int]]:
    """A new lab of ``n`` nodes with the runbook's sections; (lab, inventory, MemAvailable before it)."""
    lab = Lab(LAB_NAME, LAB_SUBNET)
    names = [f"node{i}" for i in range(1, n + 1)]
    sections = render_runbook_sections(names, artifacts["jdk_tarball"].resolve(), artifacts["zookeeper"].resolve(),
                                       heap_mb=heap_mb)
    try:
        for attempt in range(1, LAB_UP_ATTEMPTS + 1):
            lab.down()
            baseline = mem_available_bytes()
            try:
                inventory = lab.up(nodes=n, inventory_extra=sections, init=init)
                break
            except LabError as error:
                # Under load a node's systemd sometimes comes up degraded; that is the lab's, not the run's.
                print(f"lab up, attempt {attempt} of {LAB_UP_ATTEMPTS}: {error}", flush=True)
                if attempt == LAB_UP_ATTEMPTS:
                    raise
        yield lab, inventory, baseline
    finally:
        lab.down()


def nodes_cpu_seconds(lab: Lab) -> float:
    """CPU seconds all processes of the lab's nodes have used so far (sshd, shells, the JVMs): its cgroup's cpu.stat."""
    mount_point, _ = cgroup2_mount()
    for line in (mount_point / lab.topology.cgroup / "cpu.stat").read_text().splitlines():
        name, _, value = line.partition(" ")
        if name == "usage_usec":
            return int(value) / 1e6
    raise RuntimeError(f"no usage_usec in {mount_point / lab.topology.cgroup / 'cpu.stat'}")


def tail(path: Path, lines: int = 6) -> str:
    text = path.read_text(errors="replace").strip().splitlines()
    return " | ".join(line.strip() for line in text[-lines:])


class Bench:
    """One side-by-side session: its options, its output directory, and every result so far."""

    def __init__(self, args: argparse.Namespace, artifacts: dict[str, Path]):
        self.args = args
        self.artifacts = artifacts
        self.out_dir = BENCH / "results" / datetime.now().strftime("%Y%m%d-%H%M%S")
        self.out_dir.mkdir(parents=True)
        self.results: dict = {"machine": machine(), "started": datetime.now().isoformat(timespec="seconds"),
                              "commit": _git_head(), "init": args.init, "heap_mb": args.heap_mb, "noops": args.noops,
                              "repeat": args.repeat, "sizes": {}}

    def log(self, message: str) -> None:
        print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)

    def path(self, n: int, contender: str, repeat: int, what: str) -> Path:
        return self.out_dir / f"n{n}-{contender}-r{repeat}-{what}"

    def cell(self, n: int, contender: str) -> dict:
        sizes = self.results["sizes"].setdefault(str(n), {"background_cores": None})
        return sizes.setdefault(contender, {"cold": [], "noop": [], "problems": [], "skipped": None})

    # Memory.

    def node_gb(self, contender: str) -> float:
        """Memory per node at the end of a cold run, from the largest size measured, else the default."""
        measured = [(int(n), run["lab_memory_gb"] / int(n)) for n, cells in self.results["sizes"].items()
                    for run in cells.get(contender, {}).get("cold", []) if "lab_memory_gb" in run]
        if not measured:
            return DEFAULT_NODE_GB[contender]
        largest = max(n for n, _ in measured)
        return max(per for n, per in measured if n == largest)

    def fits(self, n: int, contender: str) -> str | None:
        """None if ``n`` nodes of ``contender`` fit in free memory (and inotify instances) now, else why not."""
        if self.args.init == "systemd":
            limit, in_use = inotify_instances()
            if n * INOTIFY_PER_SYSTEMD_NODE > limit - in_use:
                return (f"{n} systemd nodes need about {n * INOTIFY_PER_SYSTEMD_NODE} inotify instances, and "
                        f"{in_use} of fs.inotify.max_user_instances = {limit} are in use on this machine "
                        f"(raise it, or run with --init none)")
        need = n * self.node_gb(contender) * 1.1
        free = mem_available_bytes() / 1e9 - MEMORY_RESERVE_GB
        if need <= free:
            return None
        return (f"needs about {need:.1f} GB ({self.node_gb(contender) * 1000:.0f} MB per node, measured at a "
                f"smaller size or estimated), {free:.1f} GB free beyond a {MEMORY_RESERVE_GB:.0f} GB reserve")

    # The contenders.

    def run_one(self, n: int, contender: str, repeat: int) -> None:
        cell = self.cell(n, contender)
        if cell["cold"] and not good(cell["cold"]):
            # A size that failed once fails the same way again: at 64 nodes on this machine that is a
            # quarter of an hour per try (63 servers that do not elect).
            self.log(f"N={n} {contender}: not tried again, its first cold run at this size failed")
            return
        why_not = self.fits(n, contender)
        if why_not:
            cell["skipped"] = why_not
            self.log(f"N={n} {contender}: skipped: {why_not}")
            return
        try:
            with fresh_lab(n, self.args.heap_mb, self.artifacts, self.args.init) as (lab, inventory, baseline):
                runner = {"ssh-trust": self.ssh_trust, "clusterctl": self.clusterctl,
                          "pyinfra": self.pyinfra, "floor": self.floor}[contender]
                runner(n, repeat, lab, inventory, baseline, cell)
                if cell["cold"]:
                    cell["cold"][-1]["lab_memory_gb"] = lab_memory_gb(lab)
                    self.log(f"N={n} {contender}: the lab holds {cell['cold'][-1]['lab_memory_gb']:.1f} GB")
        except LabError as error:
            cell["problems"].append(f"repeat {repeat + 1}: no lab: {error}")
            self.log(f"N={n} {contender}: no lab: {error}")

    def record_cold(self, cell: dict, n: int, contender: str, measured: Measured, problems: list[str],
                    extra: dict | None = None) -> bool:
        run = {**measured.as_dict(), **(extra or {}), "problems": problems}
        cell["cold"].append(run)
        state = "ok" if not problems else f"FAILED: {problems[0]}"
        self.log(f"N={n} {contender} cold {measured.wall:.1f}s cpu {measured.cpu:.1f}s "
                 f"rss {measured.peak_rss_mb:.0f}MB mem {measured.memory_used_gb:.1f}GB "
                 f"load {measured.load_before:.1f}->{measured.load_after:.1f}: {state}")
        if problems:
            cell["problems"].append(f"cold run {len(cell['cold'])}: " + "; ".join(problems[:5]))
        return not problems

    def record_noop(self, cell: dict, n: int, contender: str, measured: Measured, problems: list[str],
                    extra: dict | None = None) -> None:
        cell["noop"].append({**measured.as_dict(), **(extra or {}), "problems": problems})
        state = "ok" if not problems else f"FAILED: {problems[0]}"
        self.log(f"N={n} {contender} no-op {measured.wall:.2f}s cpu {measured.cpu:.2f}s: {state}")
        if problems:
            cell["problems"].append("no-op run: " + "; ".join(problems[:5]))

    def clusterctl_argv(self, command: str, inventory: Path, log: Path) -> list[str]:
        return [sys.executable, "-m", "clusterctl", command, "-i", str(inventory), "--log", str(log)]

    def clusterctl_problems(self, measured: Measured, log: Path, output: Path) -> list[str]:
        if measured.killed:
            return [f"killed: {measured.killed}"]
        if measured.returncode == 0:
            return []
        failed = failures(log.read_text(errors="replace")) if log.exists() else []
        return [f"exit {measured.returncode}"] + (failed[:5] or [tail(output)])

    def ssh_trust(self, n, repeat, lab, inventory, baseline, cell) -> None:
        log, out = self.path(n, "ssh-trust", repeat, "cold.log"), self.path(n, "ssh-trust", repeat, "cold.out")
        nodes_before = nodes_cpu_seconds(lab)
        measured = run_measured(self.clusterctl_argv("ssh-trust", inventory, log), out,
                                timeout=self.args.timeout, baseline_available=baseline, cwd=REPO)
        nodes_cpu = nodes_cpu_seconds(lab) - nodes_before
        problems = self.clusterctl_problems(measured, log, out) or check_trust(lab, lab.nodes)
        self.record_cold(cell, n, "ssh-trust", measured, problems,
                         {"steps": spans_of(log) if log.exists() else {}, "nodes_cpu": nodes_cpu})

    def clusterctl(self, n, repeat, lab, inventory, baseline, cell) -> None:
        log, out = self.path(n, "clusterctl", repeat, "cold.log"), self.path(n, "clusterctl", repeat, "cold.out")
        measured = run_measured(self.clusterctl_argv("bootstrap", inventory, log), out,
                                timeout=self.args.timeout, baseline_available=baseline, cwd=REPO)
        problems = self.clusterctl_problems(measured, log, out) or check_end_state(lab, load_job(inventory))
        steps = spans_of(log) if log.exists() else {}
        logged = logged_seconds(log.read_text(errors="replace")) if log.exists() else 0.0
        if not self.record_cold(cell, n, "clusterctl", measured, problems, {"steps": steps, "logged": logged}):
            return
        for k in range(self.args.noops):
            log = self.path(n, "clusterctl", repeat, f"noop{k}.log")
            out = self.path(n, "clusterctl", repeat, f"noop{k}.out")
            measured = run_measured(self.clusterctl_argv("bootstrap", inventory, log), out,
                                    timeout=self.args.timeout, cwd=REPO)
            self.record_noop(cell, n, "clusterctl", measured, self.clusterctl_problems(measured, log, out),
                             {"steps": spans_of(log) if log.exists() else {}})

    def pyinfra(self, n, repeat, lab, inventory, baseline, cell) -> None:
        pyinfra_inventory = self.path(n, "pyinfra", repeat, "inventory.py")
        pyinfra_inventory.write_text(render_inventory(load_job(inventory)))
        argv = [str(BENCH_VENV / "bin" / "pyinfra"), "-y", str(pyinfra_inventory), "deploy.py"]
        self.peer("pyinfra", argv, argv, PYINFRA_DEPLOY, n, repeat, lab, inventory, baseline, cell)

    def floor(self, n, repeat, lab, inventory, baseline, cell) -> None:
        argv = [sys.executable, str(BENCH / "floor.py"), "-i", str(inventory)]
        self.peer("floor", argv, argv + ["--noop"], REPO, n, repeat, lab, inventory, baseline, cell)

    def peer(self, name: str, cold: list[str], noop: list[str], cwd: Path, n: int, repeat: int, lab: Lab,
             inventory: Path, baseline: int, cell: dict) -> None:
        """A peer's cold run on the fresh lab, its end state checked, then its no-op runs."""
        def problems_of(measured: Measured, out: Path) -> list[str]:
            if measured.killed:
                return [f"killed: {measured.killed}", tail(out)]
            return [f"exit {measured.returncode}", tail(out)] if measured.returncode else []

        out = self.path(n, name, repeat, "cold.out")
        measured = run_measured(cold, out, timeout=self.args.timeout, baseline_available=baseline, cwd=cwd)
        problems = problems_of(measured, out) or check_end_state(lab, load_job(inventory))
        if not self.record_cold(cell, n, name, measured, problems):
            return
        for k in range(self.args.noops):
            out = self.path(n, name, repeat, f"noop{k}.out")
            measured = run_measured(noop, out, timeout=self.args.timeout, cwd=cwd)
            self.record_noop(cell, n, name, measured, problems_of(measured, out))

    # The whole session.

    def run(self) -> None:
        for n in self.args.sizes:
            sizes = self.results["sizes"].setdefault(str(n), {"background_cores": None})
            sizes["background_cores"] = round(background_load(), 2)
            sizes["load_at_start"] = load_average()
            sizes["inotify_limit_in_use"] = inotify_instances()
            self.log(f"N={n}: others keep {sizes['background_cores']:.1f} cores busy, load {sizes['load_at_start']}")
            for repeat in range(self.args.repeat):
                # A different order each repeat, so that no contender always meets the same hour of others' load.
                order = list(self.args.contenders)
                shift = repeat % len(order)
                for contender in order[shift:] + order[:shift]:
                    self.run_one(n, contender, repeat)
                    self.save()
        self.results["finished"] = datetime.now().isoformat(timespec="seconds")
        self.results["load_at_end"] = load_average()
        self.save()

    def save(self) -> None:
        text = json.dumps(self.results, indent=1)
        (self.out_dir / "results.json").write_text(text)
        if self.args.json:
            self.args.json.write_text(text)


def _git_head() -> str:
    result = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%h %s"], capture_output=True, text=True)
    return result.stdout.strip()[:100]


# -- the tables ------------------------------------------------------------------

def good(runs: list[dict]) -> list[dict]:
    return [run for run in runs if not run["problems"] and run["returncode"] == 0]


def spread(values: list[float], digits: int = 1) -> str:
    """median, with (min–max) when there are several."""
    if not values:
        return "—"
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:.{digits}f}"
    return f"{med:.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def median_of(cell: dict | None, kind: str, field: str) -> float | None:
    values = [run[field] for run in good(cell[kind])] if cell else []
    return statistics.median(values) if values else None


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a and b else "—"


def cell_text(cell: dict | None, kind: str, field: str, digits: int = 1) -> str:
    if not cell:
        return "—"
    runs = good(cell[kind])
    values = [run[field] for run in runs if field in run]
    if values:
        return spread(values, digits)
    if runs:
        return "—"  # runs recorded before this figure was measured (nodes_cpu)
    if cell.get("skipped"):
        return "skipped"
    failed_cold = kind == "cold" and cell["problems"] and not good(cell["cold"])
    return "FAILED" if cell[kind] or failed_cold else "—"


def tables(results: dict) -> str:
    sizes = results["sizes"]
    out = []
    for kind, title, digits in (("cold", "Cold bootstrap: bare lab → serving ensemble (wall s)", 1),
                                ("noop", "No-op re-run (wall s)", 2)):
        out += [f"**{title}**", "",
                "| N | clusterctl | pyinfra | floor | clusterctl ÷ pyinfra | clusterctl ÷ floor |",
                "|---:|---:|---:|---:|---:|---:|"]
        for n, cells in sizes.items():
            c, p, f = (cells.get(k) for k in ("clusterctl", "pyinfra", "floor"))
            out.append(f"| {n} | {cell_text(c, kind, 'wall', digits)} | {cell_text(p, kind, 'wall', digits)} | "
                       f"{cell_text(f, kind, 'wall', digits)} | "
                       f"{ratio(median_of(c, kind, 'wall'), median_of(p, kind, 'wall'))} | "
                       f"{ratio(median_of(c, kind, 'wall'), median_of(f, kind, 'wall'))} |")
        out.append("")
    out += ["**Controller cost per run: CPU seconds (user+system) and peak RSS (MB)**", "",
            "| N | run | clusterctl CPU | pyinfra CPU | floor CPU | clusterctl RSS | pyinfra RSS | floor RSS |",
            "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for n, cells in sizes.items():
        for kind in ("cold", "noop"):
            c, p, f = (cells.get(k) for k in ("clusterctl", "pyinfra", "floor"))
            out.append(f"| {n} | {kind} | " + " | ".join(cell_text(x, kind, "cpu", 2) for x in (c, p, f)) + " | "
                       + " | ".join(cell_text(x, kind, "peak_rss_mb", 0) for x in (c, p, f)) + " |")
    out.append("")
    base = median_of(sizes.get("4", {}).get("ssh-trust"), "cold", "wall")
    cores = os.cpu_count() or 1
    out += ["**`clusterctl ssh-trust` alone, fresh lab (wall s)**: CPU s is the controller's; the nodes' is "
            f"every process of the lab's nodes during the run; their sum over the machine's {cores} cores is "
            "the least wall time that work can take here", "",
            "| N | wall | × its 4-node time | CPU s | nodes' CPU s | (CPU + nodes') ÷ cores | peak RSS MB |",
            "|---:|---:|---:|---:|---:|---:|---:|"]
    for n, cells in sizes.items():
        t = cells.get("ssh-trust")
        busy = [(run["cpu"] + run["nodes_cpu"]) / cores for run in good(t["cold"]) if "nodes_cpu" in run] if t else []
        out.append(f"| {n} | {cell_text(t, 'cold', 'wall', 2)} | {ratio(median_of(t, 'cold', 'wall'), base)} | "
                   f"{cell_text(t, 'cold', 'cpu', 2)} | {cell_text(t, 'cold', 'nodes_cpu', 2)} | "
                   f"{spread(busy, 2)} | {cell_text(t, 'cold', 'peak_rss_mb', 0)} |")
    out.append("")
    out += step_table(sizes)
    out += noop_split(sizes)
    out += ["**Conditions per size**: 1-minute load before→after each run (lowest–highest), cores others kept "
            "busy at the start, memory the lab held after the runs (GB: node disks + PSS of its processes)", "",
            "| N | load | others' cores | memory: clusterctl | pyinfra | floor |", "|---:|---|---:|---:|---:|---:|"]
    for n, cells in sizes.items():
        runs = [run for k in CONTENDERS if k in cells for kind in ("cold", "noop") for run in cells[k][kind]]
        loads = [run["load_before"] for run in runs] + [run["load_after"] for run in runs]
        load = f"{min(loads):.1f}–{max(loads):.1f}" if loads else "—"
        out.append(f"| {n} | {load} | {cells.get('background_cores')} | "
                   + " | ".join(cell_text(cells.get(k), "cold", "lab_memory_gb", 1)
                                for k in ("clusterctl", "pyinfra", "floor")) + " |")
    problems = [f"- N={n} {k}: {p}" for n, cells in sizes.items() for k in CONTENDERS if k in cells
                for p in ([f"skipped: {cells[k]['skipped']}"] if cells[k].get("skipped") else []) + cells[k]["problems"]]
    if problems:
        out += ["", "**What failed or was skipped**", "", *problems]
    return "\n".join(out)


def step_table(sizes: dict) -> list[str]:
    """clusterctl's cold run per step (run_log_spans.py), median over repeats, one column per N."""
    per_n = {n: [run["steps"] for run in good(cells["clusterctl"]["cold"])]
             for n, cells in sizes.items() if "clusterctl" in cells}
    steps = list(dict.fromkeys(step for runs in per_n.values() for run in runs for step in run))
    if not steps:
        return []
    out = ["**clusterctl cold bootstrap, seconds per step** (time between log lines charged to the later "
           "line's step; medians)", "", "| step | " + " | ".join(f"N={n}" for n in per_n) + " |",
           "|---|" + "---:|" * len(per_n)]
    for step in steps + ["(logged run)", "(start-up and exit)"]:
        cells = []
        for n, runs in per_n.items():
            if step == "(logged run)":
                values = [sum(run.values()) for run in runs]
            elif step == "(start-up and exit)":
                values = [run["wall"] - run["logged"] for run in good(sizes[n]["clusterctl"]["cold"])]
            else:
                values = [run.get(step, 0.0) for run in runs]
            cells.append(f"{statistics.median(values):.2f}" if values else "—")
        out.append(f"| {step} | " + " | ".join(cells) + " |")
    return out + [""]


def noop_split(sizes: dict) -> list[str]:
    """clusterctl's no-op: the logged run (first event to last) against the whole wall time."""
    rows = []
    for n, cells in sizes.items():
        runs = good(cells.get("clusterctl", {}).get("noop", []))
        if runs:
            logged = [sum(run["steps"].values()) for run in runs]
            rest = [run["wall"] - sum(run["steps"].values()) for run in runs]
            gather = [run["steps"].get("gather", 0.0) for run in runs]
            rows.append(f"| {n} | {spread([r['wall'] for r in runs], 2)} | {spread(logged, 2)} | "
                        f"{spread(gather, 2)} | {spread(rest, 2)} |")
    if not rows:
        return []
    return ["**clusterctl no-op, where the wall time goes** (s; before the first log line: Python start-up, "
            "imports, inventory, SSH connections; after the last: exit)", "",
            "| N | wall | logged run | of which gather | outside the log |", "|---:|---:|---:|---:|---:|",
            *rows, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 16, 64])
    parser.add_argument("--repeat", type=int, default=1, help="cold runs per contender and size (fresh labs)")
    parser.add_argument("--noops", type=int, default=3, help="no-op runs after each good cold run")
    parser.add_argument("--contenders", nargs="+", default=list(CONTENDERS), choices=CONTENDERS)
    parser.add_argument("--init", choices=("systemd", "none"), default="systemd",
                        help="the lab nodes' init (none: the lab's minimal init, no inotify instances per node)")
    parser.add_argument("--heap-mb", type=int, default=64, help="ZooKeeper heap per server (64 nodes need ≤ 64)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds before a run is killed")
    parser.add_argument("--json", type=Path, default=REPO / "docs" / "bootstrap-side-by-side.json")
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "bootstrap-steps.png")
    parser.add_argument("--readme", type=lambda v: Path(v) if v else None, default=REPO / "README.md",
                        help="write the targets block of this README from the result (--readme '' : none)")
    parser.add_argument("--tables-only", type=Path, nargs="+", metavar="JSON",
                        help="no runs: the tables and plot of earlier sessions' results.json, runs pooled")
    args = parser.parse_args()
    if args.tables_only:
        merged = merge([json.loads(path.read_text()) for path in args.tables_only])
        publish(merged, args, bench_python(), BENCH / "results" / "merged.json")
        return
    python = bench_python()
    artifacts = ensure_artifacts(REPO / "artifacts", only=["jdk_tarball", "zookeeper"])
    bench = Bench(args, artifacts)
    bench.log(f"results in {bench.out_dir}; machine {bench.results['machine']}")
    try:
        bench.run()
    finally:
        bench.save()
    publish(bench.results, args, python, bench.out_dir / "results.json")


def merge(sessions: list[dict]) -> dict:
    """One result from several sessions: the first one's header, each contender's runs pooled per size."""
    merged = dict(sessions[0], sizes={})
    for session in sessions:
        session.setdefault("sizes_run", {n: sorted(k for k, v in cells.items() if isinstance(v, dict))
                                         for n, cells in session["sizes"].items()})
        for n, cells in session["sizes"].items():
            into = merged["sizes"].setdefault(n, {})
            for key, value in cells.items():
                if not isinstance(value, dict) or key not in into:
                    into[key] = value
                    continue
                # The same contender in several sessions: its runs and problems are pooled.
                for kind in ("cold", "noop", "problems"):
                    into[key][kind] = into[key][kind] + value[kind]
                into[key]["skipped"] = into[key]["skipped"] or value["skipped"]
    merged["sessions"] = [{k: s.get(k) for k in ("started", "finished", "commit", "repeat", "init", "sizes_run")}
                          for s in sessions]
    return merged


def publish(results: dict, args: argparse.Namespace, python: Path, results_path: Path) -> None:
    """Print the tables; write the JSON to --json and the plot to --plot."""
    text = json.dumps(results, indent=1)
    results_path.write_text(text)
    if args.json:
        args.json.write_text(text)
    print()
    print(tables(results))
    block = readme_block(results)
    print("\n" + block)
    if args.readme:
        args.readme.write_text(update_readme(args.readme.read_text(), block))
        print(f"\nREADME: {args.readme}")
    if args.plot:
        subprocess.run([str(python), str(BENCH / "plot_steps.py"), str(results_path), str(args.plot)], check=True)
        print(f"\nplot: {args.plot}")


if __name__ == "__main__":
    main()
