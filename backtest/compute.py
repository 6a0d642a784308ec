"""Where batches of backtests run: local worker processes, or a Ray cluster.

Every sweep, evaluation and optimisation maps a top-level function over picklable
jobs and wants the results back in job order, so that a row never depends on where it
ran. ``LocalExecutor`` spawns processes (nothing forked from a parent holding
threads); ``RayExecutor`` sends the same function and jobs to a cluster
(``--ray ADDRESS`` or ``[compute]`` in the config) and keeps the order the same way.
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence


class Executor(Protocol):
    def map(self, fn: Callable[[Any], Any], jobs: Sequence[Any]) -> Iterator[Any]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Up to ``workers`` spawned processes (one: in this process, no pool at all)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)

    def map(self, fn: Callable[[Any], Any], jobs: Sequence[Any]) -> Iterator[Any]:
        n = min(self.workers, len(jobs))
        if n <= 1:
            yield from map(fn, jobs)
            return
        with ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn")) as pool:
            yield from pool.map(fn, jobs)

    def close(self) -> None:
        pass


class RayExecutor:
    """Jobs as Ray tasks on the cluster at ``address`` ("local": start one here).

    Results come back in job order (``ray.get`` per task, in submission order), so a
    table made on a cluster is the table made on one machine.
    """

    def __init__(self, address: str, *, num_cpus: int | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise RuntimeError("Ray is not installed: pip install 'makerhive[ray]'") from None
        self._ray = ray
        self._task: Any = None
        self._owned = not ray.is_initialized()
        if self._owned:
            kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address == "local":
                kw["_node_ip_address"] = "127.0.0.1"  # a test cluster listens on loopback only
                if num_cpus:
                    kw["num_cpus"] = num_cpus
            try:
                ray.init(address=address, **kw)
            except Exception as e:  # ConnectionError, a bad address, a version mismatch ...
                raise RuntimeError(f"cannot start or reach Ray at {address!r}: {e}") from None

    def map(self, fn: Callable[[Any], Any], jobs: Sequence[Any]) -> Iterator[Any]:
        if self._task is None:  # a backtest that raised would raise again: no retries
            self._task = self._ray.remote(max_retries=0)(_apply)
        refs = [self._task.remote(fn, j) for j in jobs]
        for r in refs:
            yield self._ray.get(r)

    def close(self) -> None:
        if self._owned:
            self._ray.shutdown()
            self._owned = False


def _apply(fn: Callable[[Any], Any], job: Any) -> Any:
    """One job on a Ray worker (any callable: Ray wraps only Python functions itself)."""
    return fn(job)


def make_executor(*, workers: int | None = None, ray_address: str | None = None,
                  compute: Any = None) -> Executor:
    """``--ray`` wins, then ``[compute]`` (backend = "ray"), else local processes."""
    if ray_address:
        return RayExecutor(ray_address)
    if compute is not None and compute.backend == "ray":
        return RayExecutor(compute.ray_address, num_cpus=compute.num_cpus or None)
    return LocalExecutor(workers if workers is not None else (compute.workers or None) if compute else None)


def run_all(executor: Executor, fn: Callable[[Any], Any], jobs: Iterable[Any],
            on_result: Callable[[Any], None] | None = None) -> list[Any]:
    """Every job's result, in job order; ``on_result`` sees each as it lands."""
    out = []
    for r in executor.map(fn, list(jobs)):
        out.append(r)
        if on_result:
            on_result(r)
    return out
