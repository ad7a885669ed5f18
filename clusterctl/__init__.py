"""clusterctl: stand up and run a ZooKeeper ensemble on bare Linux hosts."""

import os as _os
import signal as _signal
import sys as _sys


def _interrupted_while_loading(signum, frame):
    # The program is still loading its modules: nothing to clean up, no traceback to show.
    _os.write(2, b"clusterctl: interrupted before anything was done\n")
    _os._exit(128 + signum)


def _starting_the_command() -> bool:
    """Whether this import is the start of the clusterctl command (`clusterctl …` or `python -m clusterctl`)."""
    first = _sys.argv[0] if _sys.argv else ""
    return first == "-m" or _os.path.basename(first) == "clusterctl"


# First thing, before the heavy imports (click, rich, fabric) that make up most of start-up,
# and only for the command: a program importing clusterctl as a library keeps its own handlers.
# entry.run_main and the CLI put the run's handlers in place once loaded.
if _starting_the_command() and _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:
    _signal.signal(_signal.SIGINT, _interrupted_while_loading)
    _signal.signal(_signal.SIGTERM, _interrupted_while_loading)

__version__ = "0.1.0"
