"""The bundled executable's entry point: the same `easel` command as the installed one."""

import multiprocessing
import os
import sys

from desktop.launcher import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen child process must not start a second app
    if sys.stdout is None or sys.stderr is None:
        # A windowed program on Windows has no console: libraries that print (tqdm bars in downloads,
        # warnings) would fail on None. Their output goes nowhere instead.
        sink = open(os.devnull, "w", encoding="utf-8")
        sys.stdout, sys.stderr = sys.stdout or sink, sys.stderr or sink
    sys.exit(main())
