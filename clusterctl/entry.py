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
    try:
        status = main()
        # Done: an interrupt now would only turn the result into a traceback or a wrong status.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    except KeyboardInterrupt:
        # An interrupt that reached past main's own handling (seen once under heavy load, right after main
        # had said "interrupted"): the same status, never Python's death by SIGINT and its traceback.
        status = 128 + signal.SIGINT
    sys.exit(status)
