"""Time clusterctl's start-up: help texts and imports, before any host or inventory is read; print tables.

    python benchmarks/startup.py                          # the clusterctl next to this python
    python benchmarks/startup.py --runs 30 base=/tmp/base/.venv/bin/clusterctl new=.venv/bin/clusterctl

Each command runs ``--runs`` times (after one warm-up), the checkouts given
interleaved so that the machine's load falls on all alike. "wall" is the
median wall time and its min-max, "cpu" the median user + system seconds of
the process (steadier than wall on a busy machine); `python -c pass` and
`python -c "import click"` are the floors no command can go below. "loads"
names the heavy packages a command imported (from its own sys.modules).
Then `-X importtime` of `clusterctl --help`: self time summed per top-level
package (clusterctl per subpackage), and the slowest modules by cumulative
time, medians over ``--importtime-runs``.

Python writes no bytecode under PYTHONDONTWRITEBYTECODE=1, and an editable
checkout then compiles every module of clusterctl on every start; the runs
here unset it (after the warm-up each module has its .pyc), as an installed
copy always has.

Target (issue #24): `clusterctl --help` and `clusterctl zk --help` in at most
0.25 s wall on the 2-core lab machine.
"""

from __future__ import annotations

import argparse
import collections
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_SECONDS = 0.25
TARGETED = ("--help", "zk --help")
COMMANDS = ("--help", "zk --help", "plan --help", "zk status --help", "lab --help", "artifacts --help")
HEAVY = ("fabric", "invoke", "paramiko", "cryptography", "kazoo", "rich", "pygments", "importlib.metadata",
         "clusterctl.lab.lab", "clusterctl.lab.artifacts.ensure")
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

# Runs the command's entry point in-process, then says which heavy packages it loaded (on stderr).
LOADS = """import contextlib, io, sys
from clusterctl.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    main(sys.argv[1:])
print(" ".join(h for h in {heavy!r} if h in sys.modules or any(m.startswith(h + ".") for m in sys.modules)),
      file=sys.stderr)
"""


def timed(argv: list[str]) -> tuple[float, float]:
    """(wall, user + system CPU) seconds of one run of ``argv``, its output thrown away."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def python_of(clusterctl: Path) -> str:
    return str(clusterctl.parent / "python")


def loads(clusterctl: Path, args: str) -> str:
    code = LOADS.format(heavy=HEAVY)
    # Not from a checkout's directory: `python -c` would import the clusterctl found there, not the venv's.
    done = subprocess.run([python_of(clusterctl), "-c", code, *args.split()], env=ENV, capture_output=True,
                          text=True, cwd=clusterctl.parent)
    return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "-"


def measure(targets: dict[str, Path], runs: int) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """(label, what) → [(wall, cpu)…]; every checkout and command in turn, ``runs`` rounds."""
    cases = {}
    for label, clusterctl in targets.items():
        python = python_of(clusterctl)
        cases[(label, "python -c pass")] = [python, "-c", "pass"]
        cases[(label, 'python -c "import click"')] = [python, "-c", "import click"]
        for args in COMMANDS:
            cases[(label, f"clusterctl {args}")] = [str(clusterctl), *args.split()]
    for argv in cases.values():  # warm-up: writes the .pyc files
        timed(argv)
    times: dict = collections.defaultdict(list)
    for _ in range(runs):
        for key, argv in cases.items():
            times[key].append(timed(argv))
    return times


def importtime(clusterctl: Path, runs: int) -> tuple[dict[str, float], dict[str, float]]:
    """Medians in ms of `-X importtime` for `clusterctl --help`: self time per top-level package, per module."""
    packages, modules = collections.defaultdict(list), collections.defaultdict(list)
    for _ in range(runs):
        done = subprocess.run([python_of(clusterctl), "-X", "importtime", str(clusterctl), "--help"], env=ENV,
                              capture_output=True, text=True, check=True)
        per_package: dict[str, int] = collections.defaultdict(int)
        for line in done.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            own, cumulative, name = line.removeprefix("import time:").split("|")
            name = name.strip()
            top = ".".join(name.split(".")[:2]) if name.startswith("clusterctl.") else name.split(".")[0]
            per_package[top] += int(own)
            modules[name].append(int(cumulative))
        for top, own in per_package.items():
            packages[top].append(own)
    return ({p: statistics.median(v) / 1000 for p, v in packages.items()},
            {m: statistics.median(v) / 1000 for m, v in modules.items()})


def main(targets: dict[str, Path], runs: int, importtime_runs: int, top: int) -> None:
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start; {runs} runs each, "
          f"medians")
    times = measure(targets, runs)
    print("\n| checkout | command | wall s | min-max s | cpu s | loads | target |\n|---|---|---:|---:|---:|---|---|")
    for (label, what), samples in times.items():
        walls, cpus = [w for w, _ in samples], [c for _, c in samples]
        wall = statistics.median(walls)
        args = what.removeprefix("clusterctl ")
        target = ""
        if args in TARGETED:
            target = f"≤ {TARGET_SECONDS} s: " + ("met" if wall <= TARGET_SECONDS else "missed")
        heavy = loads(targets[label], args) if what.startswith("clusterctl ") else ""
        print(f"| {label} | `{what}` | {wall:.3f} | {min(walls):.3f}-{max(walls):.3f} | "
              f"{statistics.median(cpus):.3f} | {heavy} | {target} |")
    for label, clusterctl in targets.items():
        packages, modules = importtime(clusterctl, importtime_runs)
        print(f"\n`-X importtime` of `clusterctl --help`, {label}: self time per package (median of "
              f"{importtime_runs}, ms), {sum(packages.values()):.0f} ms in all")
        print(", ".join(f"{p} {ms:.0f}" for p, ms in sorted(packages.items(), key=lambda i: -i[1])[:top]))
        print("slowest modules, cumulative ms: " + ", ".join(
            f"{m} {ms:.0f}" for m, ms in sorted(modules.items(), key=lambda i: -i[1])[:top]))
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


def target(value: str) -> tuple[str, Path]:
    label, equals, path = value.rpartition("=")
    return (label if equals else "this", Path(path).absolute())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clusterctl", nargs="*", type=target, metavar="[LABEL=]PATH",
                        help="clusterctl executables of venvs to compare (default: the one beside this python)")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--importtime-runs", type=int, default=5)
    parser.add_argument("--top", type=int, default=12, help="How many packages and modules to list.")
    args = parser.parse_args()
    chosen = dict(args.clusterctl) or {"this": Path(sys.executable).parent / "clusterctl"}
    main(chosen, args.runs, args.importtime_runs, args.top)
