"""Run a module as `python -m` would, then report this process's peak memory on stderr's last line.

Wall time is measured by the caller around the whole process (interpreter start included), the
same way for the synth and for the floor, so the two are comparable.
"""

from __future__ import annotations

import json
import resource
import runpy
import sys


def main() -> None:
    module, sys.argv = sys.argv[1], [sys.argv[1], *sys.argv[2:]]
    status = 0
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as done:
        status = int(done.code or 0)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    sys.stdout.flush()
    print(json.dumps({"peak_kib": peak_kib, "status": status}), file=sys.stderr)
    sys.exit(status)


if __name__ == "__main__":
    main()
