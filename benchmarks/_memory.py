"""Process memory figures shared by the benchmark scripts (Linux; NaN where unavailable)."""

from __future__ import annotations

import ctypes
import gc
import resource
import sys


def rss_now_mib() -> float:
    """Current resident set size, MiB (NaN off Linux)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def max_rss_mib() -> float:
    """Peak resident set size of this process so far, MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS


def release_freed_memory() -> None:
    """Collect garbage and hand freed heap pages back to the OS (glibc), for a clean baseline."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
