"""The code clusterctl runs on hosts: shellcheck-clean files, shaped so that a payload can follow them on stdin."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from clusterctl import remote
from tests.fakes import run_locally

SHELL = [n for n in remote.names() if n.endswith(".sh")]
# The lab's own scripts too; not the artifact builders' copy of ZooKeeper's zkEnv.sh, which is Apache's.
LAB_SCRIPTS = sorted(str(p) for p in (Path(remote.__file__).parents[1] / "lab").rglob("*.sh") if "artifacts" not in p.parts)


def test_every_remote_shell_script_passes_shellcheck():
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is missing: scripts/setup installs it (apt-get install shellcheck)"
    paths = [str(Path(remote.__file__).parent / n) for n in SHELL] + LAB_SCRIPTS
    result = subprocess.run([shellcheck, "-s", "bash", *paths], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("name", SHELL)
def test_a_script_is_definitions_and_one_last_line_that_runs_main(name):
    # Bash runs a script from stdin command by command; whatever follows the last line is the
    # payload, left for main's commands to read. Top-level code after main would eat it.
    lines = [line for line in remote.load(name).text.decode().splitlines() if line.strip()]
    assert lines[-1] == 'main "$@"'
    assert 'main "$@"' not in lines[:-1]


def test_a_payload_after_the_script_reaches_the_script_intact(tmp_path):
    payload = bytes(range(256)) * 40_000  # 10 MB, every byte value
    digest = hashlib.sha256(payload).hexdigest()
    done = run_locally("write_file.sh", tmp_path / "f", "640", "-", "-", len(payload), digest, "-", payload=payload)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "f").read_bytes() == payload and (tmp_path / "f").stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("cut", [0, 1, 4096, 99_999])
def test_a_write_cut_short_leaves_the_old_file_and_no_temporary(tmp_path, cut):
    target = tmp_path / "authorized_keys"
    target.write_text("old\n")
    payload = b"x" * 100_000
    done = run_locally("write_file.sh", target, "600", "-", "-", len(payload), hashlib.sha256(payload).hexdigest(), "-",
                       payload=payload[:cut])
    assert done.returncode == 1 and b"is unchanged" in done.stderr
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["authorized_keys"]


def test_bytes_that_are_not_the_expected_ones_are_refused(tmp_path):
    target = tmp_path / "hosts"
    done = run_locally("write_file.sh", target, "644", "-", "-", 3, hashlib.sha256(b"abc").hexdigest(), "-",
                       payload=b"abd")
    assert done.returncode == 1 and not target.exists() and list(tmp_path.iterdir()) == []


def test_a_new_directory_gets_the_mode_asked_for(tmp_path):
    payload = b"k\n"
    done = run_locally("write_file.sh", tmp_path / "ssh" / "known_hosts", "600", "-", "-", 2,
                       hashlib.sha256(payload).hexdigest(), "700", payload=payload)
    assert done.returncode == 0
    assert (tmp_path / "ssh").stat().st_mode & 0o777 == 0o700


def test_a_temporary_left_by_a_writer_that_died_is_removed_by_the_next_write(tmp_path):
    (tmp_path / ".zoo.cfg.clusterctl-tmp.abc123").write_text("half")
    payload = b"tickTime=2000\n"
    run_locally("write_file.sh", tmp_path / "zoo.cfg", "644", "-", "-", len(payload),
                hashlib.sha256(payload).hexdigest(), "-", payload=payload)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zoo.cfg"]


def test_no_script_text_is_built_in_python():
    # Shell reaching a host lives in clusterctl/remote; Python passes arguments only.
    package = Path(remote.__file__).parents[1]
    suspicious = re.compile(r"f[\"'].*(\|\| |&& |; then|\$\(|2>/dev/null)")
    offenders = [f"{p.relative_to(package)}:{i}" for p in package.rglob("*.py") if "lab" not in p.parts
                 for i, line in enumerate(p.read_text().splitlines(), 1) if suspicious.search(line)]
    assert offenders == []
