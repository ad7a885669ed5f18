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
    if status == 128 + signal.SIGINT:
        _end_interrupted(status)
    sys.exit(status)


def _end_interrupted(status: int) -> None:
    """End an interrupted run with ``status``, now.

    CPython remembers an interrupt that escaped code it ran through PyRun_* (during an import, say) even
    when clusterctl handled it afterwards, and then ends the process by SIGINT once it has finalized
    instead of with the status asked for (seen under load, about 1 interrupted start in 20, the flag
    read at exit). So the finalizing that matters is done here (the exit handlers, the output
    flushed) and the process ends with its status.
    """
    import atexit
    import os
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or terminal: nothing more can be said on it
            pass
    os._exit(status)
