"""The clusterctl command's entry point: the signals first, then the program.

An interrupt while the program is still loading has nothing to clean up; it
ends with one line and the interrupt's exit status, never a traceback.
"""

from __future__ import annotations

import signal
import sys

from . import _interrupted_while_loading


def run_main() -> None:
    signal.signal(signal.SIGINT, _interrupted_while_loading)
    signal.signal(signal.SIGTERM, _interrupted_while_loading)
    from .cli import main
    status = main()
    # Done: an interrupt now would only turn the result into a traceback or a wrong status.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(status)
