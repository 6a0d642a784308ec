"""Pinning the trading process to one CPU.

All actors and the venue thread share one GIL. On a multi-core machine the threads wake
on different cores and the GIL bounces between them; measured on the 2-core machine,
pinning the process to a single core halves tick-to-action latency (see the README's
benchmark). Child processes started afterwards inherit the pin, so the live view
process is started first or widened again.
"""
from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)


def pin_to_cpu(cpu: int) -> bool:
    """Pin this process to ``cpu``; False (and no change) where that is not possible."""
    if cpu < 0 or not hasattr(os, "sched_setaffinity"):
        return False
    try:
        if cpu not in os.sched_getaffinity(0):
            log.warning("run.pin_cpu = %d is not available to this process; not pinning", cpu)
            return False
        os.sched_setaffinity(0, {cpu})
        return True
    except OSError as e:
        log.warning("could not pin to CPU %d: %s", cpu, e)
        return False


def other_cpus(cpu: int) -> set[int]:
    """The CPUs a helper process (the view) should use: every allowed one but ``cpu``."""
    try:
        allowed = os.sched_getaffinity(0)
    except (AttributeError, OSError):
        return set()
    rest = allowed - {cpu}
    return rest or allowed


def move_process(pid: int, cpus: set[int]) -> None:
    """Put another process (the view) on ``cpus``, off the trading CPU."""
    if cpus and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(pid, cpus)
        except OSError as e:
            log.warning("could not move process %d to CPUs %s: %s", pid, sorted(cpus), e)
