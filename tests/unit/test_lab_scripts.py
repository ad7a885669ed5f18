"""The shell the lab runs to boot its nodes is shellcheck-clean."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import clusterctl.lab

SCRIPTS = sorted(Path(clusterctl.lab.__file__).parent.glob("*.sh"))


def test_the_boot_scripts_ship_with_the_package():
    assert {script.name for script in SCRIPTS} >= {"node-init.sh", "minimal-init.sh"}


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda script: script.name)
def test_a_boot_script_passes_shellcheck(script):
    result = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
