"""clusterctl artifacts: build the JDK and ZooKeeper artifacts the other commands install."""

from __future__ import annotations

import os
from pathlib import Path

import click

from . import ARTIFACT_KINDS, ArtifactError, artifact_sha256, ensure_artifacts

# On the command line kinds are spelled with dashes: jdk-tarball, jdk-rpm, ...
CLI_KINDS = {kind.replace("_", "-"): kind for kind in ARTIFACT_KINDS}


def _kinds(ctx, param, value: str | None) -> list[str]:
    if not value:
        return list(ARTIFACT_KINDS)
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in CLI_KINDS]
    if unknown:
        raise click.BadParameter(f"unknown {', '.join(unknown)}; choose from {','.join(CLI_KINDS)}")
    return [CLI_KINDS[name] for name in names]


def human_size(size: int) -> str:
    """1536 -> '1.5 KiB'."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def artifact_line(kind: str, path: Path) -> str:
    """One artifact as the command prints it: kind, path, size, sha256."""
    size = path.stat().st_size
    return f"{kind.replace('_', '-'):<12} {path}  {human_size(size)} ({size} bytes)  sha256:{artifact_sha256(path)}"


def make_out_dir(out_dir: Path) -> Path:
    """``out_dir`` made if missing and resolved, or an ArtifactError naming --out and why it cannot be."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArtifactError(f"--out {out_dir}: cannot make the directory: {exc.strerror}; give another path") from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise ArtifactError(f"--out {out_dir}: the directory is not writable; give another path")
    return out_dir.resolve()


@click.command("artifacts")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("artifacts"),
              show_default=True, help="Directory the artifacts are built in (and reused from).")
@click.option("--only", "kinds", callback=_kinds, metavar="KINDS",
              help=f"Comma-separated subset of: {','.join(CLI_KINDS)} (default: all).")
def artifacts_command(out_dir: Path, kinds: list[str]) -> None:
    """Build the JDK tarball, rpm and deb and the ZooKeeper release from this machine's packages.

    Nothing is downloaded; an artifact whose inputs did not change is reused as is.
    """
    out_dir = make_out_dir(out_dir)
    for kind in kinds:
        path = ensure_artifacts(out_dir, only=[kind])[kind]
        click.echo(artifact_line(kind, path))
