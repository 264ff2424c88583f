"""Thread settings for a machine that others use too, applied before torch is imported.

OpenMP's default wait policy spins idle threads for a while before they sleep: beside another
CPU-bound process, those spinning threads take the very cores the working ones wait for, and
training slowed 8x. PASSIVE (and KMP_BLOCKTIME=0 for Intel's runtime) puts them to sleep at
once. The pools are sized to the cores this process may run on (a container or ``taskset``
may allow fewer than the machine has). Variables the user set are left as they are.
"""

from __future__ import annotations

import os
import sys


def available_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def configure() -> int:
    """Set the thread environment (and torch's pool, when torch is already imported); returns the thread count."""
    cores = available_cores()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("KMP_BLOCKTIME", "0")
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(name, str(cores))
    threads = int(os.environ["OMP_NUM_THREADS"]) if os.environ["OMP_NUM_THREADS"].isdigit() else cores
    torch = sys.modules.get("torch")  # imported already (a test session, a notebook): size its pool too
    if torch is not None and torch.get_num_threads() > threads:
        torch.set_num_threads(threads)
    return threads
