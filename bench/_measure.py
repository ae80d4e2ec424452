"""Run a module as `python -m` would, then write this process's peak memory to a report file.

    python -m bench._measure REPORT.json MODULE [ARGS...]


Wall time is measured by the caller around the whole process (interpreter start included), the
same way for the synth and for the floor, so the two are comparable.
"""

from __future__ import annotations

import json
import resource
import runpy
import sys
from pathlib import Path


def main() -> None:
    report, module = Path(sys.argv[1]), sys.argv[2]
    sys.argv = [module, *sys.argv[3:]]
    status = 0
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as done:
        status = int(done.code or 0)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    # A file, not stderr: the SDK's asyncio teardown may still log after this point.
    report.write_text(json.dumps({"peak_kib": peak_kib, "status": status}))
    sys.exit(status)


if __name__ == "__main__":
    main()
