"""Run one per-item function over many items, in this process or on Ray actors (models loaded once per worker).

An executor takes a *factory*: a picklable callable that builds the per-item function once per worker (it loads
the models), e.g. ``factory() -> engine-backed callable``. ``imap_unordered(items)`` yields one
:class:`Outcome` per item, in completion order:

- :class:`LocalExecutor` calls the function here, one item after the other (what the commands do without ``--ray``);
- :class:`RayExecutor` starts ``workers`` Ray actors (each builds the function once), keeps ``depth`` items queued
  per actor (the next one waits in the actor while this process stores the last one's result), and survives
  workers that die: Ray restarts a dead actor (``max_restarts``) and re-runs the method call
  it was running (``max_task_retries``); past that the executor replaces the actor and resubmits the item itself,
  up to ``max_attempts`` times, after which the item comes back as an error. Each item therefore yields exactly
  one outcome, whatever happens to the workers.

Ray is an optional dependency (``pip install -e .[ray]``); nothing here imports it until a RayExecutor starts.
"""

from __future__ import annotations

import os
import resource
import sys
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.errors import ConfigError

LOCAL = "local"  # the --ray value that starts a Ray instance on this machine


@dataclass
class Outcome:
    """What one item gave: ``result`` (the function's return value) or ``error`` (why there is none)."""

    item: Any
    result: Any = None
    error: str | None = None
    attempts: int = 1  # how many times the item was handed to a worker by the executor


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports ru_maxrss in KiB, macOS in bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (all its threads), in seconds."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def set_threads(n: int | None) -> None:
    """Limit OpenCV (fills, resizing) in this process to ``n`` threads, the worker's share of the cores. The face
    models' torch / onnxruntime threads are the model configuration's own (``FACEX_THREADS``; 1 by default on
    machines with up to 2 cores), as in the in-process run."""
    if not n:
        return
    try:
        import cv2

        cv2.setNumThreads(int(n))
    except ImportError:
        pass


class LocalExecutor:
    """Calls the function in this process, one item after another (the function is built on first use)."""

    name = "in-process"
    workers = 1

    def __init__(self, factory: Callable[[], Callable[[Any], Any]]) -> None:
        self.factory = factory
        self._fn: Callable[[Any], Any] | None = None
        self.restarts = 0

    def imap_unordered(self, items: Iterable[Any]) -> Iterator[Outcome]:
        for item in items:
            if self._fn is None:
                self._fn = self.factory()
            try:
                yield Outcome(item, self._fn(item))
            except Exception as exc:  # noqa: BLE001 - an unexpected failure of one item: reported, the run goes on
                yield Outcome(item, error=_error_text(exc))

    def worker_stats(self) -> list[dict]:
        return [{"pid": os.getpid(), "peak_rss_mib": peak_rss_mib(), "cpu_s": cpu_seconds()}]

    def close(self) -> None:
        self._fn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Worker:
    """The body of a Ray actor: builds the function once, then runs it item by item."""

    def __init__(self, factory: Callable[[], Callable[[Any], Any]], threads: int | None) -> None:
        set_threads(threads)
        self.fn = factory()

    def run(self, item: Any) -> Any:
        return self.fn(item)

    def stats(self) -> dict:
        return {"pid": os.getpid(), "peak_rss_mib": peak_rss_mib(), "cpu_s": cpu_seconds()}


def init_ray(address: str | None = LOCAL, *, num_cpus: int | None = None, **kwargs) -> bool:
    """Start or join Ray (Ray Core, ``ray.init``).

    Args:
        address: None or ``"local"``: a private instance on this machine (no dashboard); anything else
            (``"auto"``, ``"10.0.0.5:6379"``, ``"ray://head:10001"``): join that cluster.
        num_cpus: CPUs of the local instance (default: all cores); ignored when joining a cluster.
        **kwargs: further ``ray.init`` options (e.g. ``object_store_memory`` in bytes).
    Returns:
        True when this call started Ray (the caller then shuts it down), False when Ray was already running.
    Raises:
        ConfigError: the ``ray`` package is not installed.
    """
    try:
        import ray
    except ImportError:
        raise ConfigError("--ray needs the Ray package: pip install -e '.[ray]' (or pip install ray)") from None
    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    options.update(kwargs)
    if address in (None, "", LOCAL):
        # workers import this package from where the driver imported it (a source checkout need not be installed)
        here = str(Path(__file__).resolve().parents[1])
        path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
        env = dict(options.pop("runtime_env", None) or {})
        env["env_vars"] = {**env.get("env_vars", {}), "PYTHONPATH": path}
        ray.init(num_cpus=int(num_cpus or os.cpu_count() or 1), runtime_env=env, **options)
    else:
        ray.init(address=address, **options)
    return True


@dataclass
class RayExecutor:
    """Runs the function on ``workers`` Ray actors (models load once per actor).

    Args:
        factory: picklable callable building the per-item function inside each actor.
        workers: actors to start (default: the cluster's CPUs // ``cpus_per_worker``).
        cpus_per_worker: CPUs reserved per actor, and OpenCV's thread count in it (default: the cluster's CPUs //
            ``workers``, at least 1; so one worker on a 2-core machine gets both cores).
        max_restarts, max_task_retries: Ray's own restart of a dead actor and re-run of its interrupted call.
        max_attempts: times the executor itself hands an item to a (new) worker before giving up on it (an item
            queued behind the one that killed the worker does not count that as one of its attempts).
        depth: calls queued per actor (2: an actor starts its next item while this process receives and writes the
            previous result; 1: it waits for that).
    """

    factory: Callable[[], Callable[[Any], Any]]
    workers: int | None = None
    cpus_per_worker: int | None = None
    max_restarts: int = 2
    max_task_retries: int = 2
    max_attempts: int = 3
    depth: int = 2
    name: str = "ray"
    restarts: int = 0  # actors the executor replaced after Ray gave up on them
    _actors: list = field(default_factory=list, repr=False)
    _pids: dict = field(default_factory=dict, repr=False)
    _serial: list = field(default_factory=list, repr=False)  # per slot: which actor started there (0, 1, 2, ...)
    _started: int = 0
    busy: dict = field(default_factory=dict, repr=False)  # actor slot -> the item it is running (read by tests)

    def __post_init__(self) -> None:
        import ray

        if not ray.is_initialized():
            raise ConfigError("Ray is not running: call init_ray() first")
        total = int(ray.cluster_resources().get("CPU", 1))
        if self.workers is not None and self.workers < 1:
            raise ConfigError(f"--workers must be at least 1, not {self.workers}")
        if self.cpus_per_worker is None:
            self.cpus_per_worker = max(1, total // (self.workers or total))
        if self.workers is None:
            self.workers = max(1, total // self.cpus_per_worker)
        self._cls = ray.remote(_Worker).options(
            num_cpus=self.cpus_per_worker, max_restarts=self.max_restarts, max_task_retries=self.max_task_retries
        )

    def _start(self, slot: int) -> None:
        actor = self._cls.remote(self.factory, self.cpus_per_worker)
        self._started += 1  # a serial, not id(actor): a freed handle's id can come back for a new actor
        if slot < len(self._actors):
            self._actors[slot], self._serial[slot] = actor, self._started
        else:
            self._actors.append(actor)
            self._serial.append(self._started)

    def start(self) -> None:
        """Start the actors and wait until each one has loaded its models (idempotent)."""
        import ray

        while len(self._actors) < self.workers:
            self._start(len(self._actors))
        stats = ray.get([a.stats.remote() for a in self._actors])
        self._pids = {slot: s["pid"] for slot, s in enumerate(stats)}

    def worker_pids(self) -> dict[int, int]:
        """{actor slot: process id} as of the last start (a restarted actor has a new one)."""
        return dict(self._pids)

    def worker_stats(self) -> list[dict]:
        """Per actor: pid, peak resident memory (MiB) and CPU seconds so far, asked from the actors themselves
        (call when idle)."""
        import ray

        out = []
        for actor in self._actors:
            try:
                out.append(ray.get(actor.stats.remote(), timeout=60))
            except Exception as exc:  # noqa: BLE001 - a dead actor has no figures
                out.append({"error": _error_text(exc)})
        return out

    def imap_unordered(self, items: Iterable[Any]) -> Iterator[Outcome]:
        import ray
        from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

        pending = deque(enumerate(items))
        if not pending:  # nothing to do: no actors (and no model loading) needed
            return
        self.start()
        self._attempts: Counter = Counter()
        self._inflight: dict = {}  # ObjectRef -> (n, item, slot, serial of the actor it was sent to)
        self._calls: dict[int, deque] = {}  # actor serial -> its unfinished calls' refs, in call order
        self._alone: dict[int, int] = {}  # actor serial -> the suspect item it runs with nothing queued beside it
        self._suspects: set[int] = set()  # items on a worker that died with several calls: each may be the cause
        self._free = [slot for _ in range(max(1, self.depth)) for slot in range(len(self._actors))][::-1]
        died: set[int] = set()  # serials of the actors whose death was handled
        while pending or self._inflight:
            self._dispatch(pending)
            ready, _ = ray.wait(list(self._inflight), num_returns=1)
            # an actor finishes its calls in order: handle its oldest one first (ready too when a later one is)
            ref = self._calls[self._inflight[ready[0]][3]].popleft()
            n, item, slot, serial = self._inflight.pop(ref)
            alone = self._alone.get(serial) == n
            if alone:
                del self._alone[serial]
            self._update_busy(slot)
            self._free.append(slot)
            try:
                result = ray.get(ref)
            except RayActorError as exc:  # Ray's restarts / retries are used up: a fresh actor takes the slot
                if serial not in died:
                    died.add(serial)
                    if self._serial[slot] == serial:
                        self.restarts += 1
                        self._start(slot)
                if not alone:  # several items were on that worker: which one killed it is not known
                    self._attempts[n] -= 1
                    self._suspects.add(n)  # so it runs alone next time, where a death is its own
                if self._attempts[n] < self.max_attempts:
                    pending.appendleft((n, item))
                else:
                    yield Outcome(item, error=f"the worker died {self._attempts[n]} times on it "
                                              f"({_error_text(exc)})", attempts=self._attempts[n])
                continue
            except (RayTaskError, GetTimeoutError) as exc:  # the function raised: the item's own error
                cause = getattr(exc, "cause", None) or exc
                yield Outcome(item, error=_error_text(cause), attempts=self._attempts[n])
                continue
            yield Outcome(item, result, attempts=self._attempts[n])

    def _dispatch(self, pending: deque) -> None:
        """Send pending items to actors with room, in order; a suspect item only to an idle actor, alone."""
        while pending and self._free:
            n, item = pending[0]
            usable = [s for s in dict.fromkeys(self._free) if self._serial[s] not in self._alone
                      and (n not in self._suspects or not self._calls.get(self._serial[s]))]
            if not usable:
                return  # wait for a call to finish
            slot = usable[0]
            pending.popleft()
            self._free.remove(slot)
            self._attempts[n] += 1
            ref = self._actors[slot].run.remote(item)
            serial = self._serial[slot]
            self._inflight[ref] = (n, item, slot, serial)
            self._calls.setdefault(serial, deque()).append(ref)
            if n in self._suspects:
                self._alone[serial] = n
            self._update_busy(slot)

    def _update_busy(self, slot: int) -> None:
        """``busy[slot]``: the item the slot's current actor runs now (its oldest unfinished call), if any."""
        current = self._calls.get(self._serial[slot])
        if current:
            self.busy[slot] = self._inflight[current[0]][1]
        else:
            self.busy.pop(slot, None)

    def close(self) -> None:
        import ray

        for actor in self._actors:
            try:
                ray.kill(actor)
            except Exception:  # noqa: BLE001, S110 - already gone
                pass
        self._actors.clear()
        self._serial.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def make_executor(factory: Callable[[], Callable[[Any], Any]], *, ray_address: str | None = None,
                  workers: int | None = None, **ray_kwargs):
    """The executor the command-line options ask for.

    Args:
        factory: picklable callable that builds the per-item function (loads the models) in each worker.
        ray_address: ``--ray``: None (not given), ``"local"``, or a cluster address.
        workers: ``--workers``: Ray workers; given without ``ray_address`` it means a local Ray instance.
        **ray_kwargs: passed to :func:`init_ray`.
    Returns:
        (executor, started_ray): a :class:`LocalExecutor` when neither option is given, else a
        :class:`RayExecutor`; ``started_ray`` tells :func:`shutdown_ray` whether to stop Ray afterwards.
    Raises:
        ConfigError: ``workers`` below 1, or Ray not installed.
    """
    if ray_address is None and workers is None:
        return LocalExecutor(factory), False
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be at least 1, not {workers}")
    address = ray_address or LOCAL
    num_cpus = ray_kwargs.pop("num_cpus", None)
    if address == LOCAL and num_cpus is None and workers is not None:
        num_cpus = max(workers, os.cpu_count() or 1)
    started = init_ray(address, num_cpus=num_cpus, **ray_kwargs)
    return RayExecutor(factory, workers=workers), started


def shutdown_ray(started: bool) -> None:
    if started:
        import ray

        ray.shutdown()


__all__ = ["LOCAL", "LocalExecutor", "Outcome", "RayExecutor", "cpu_seconds", "init_ray", "make_executor", "peak_rss_mib",
           "set_threads", "shutdown_ray"]
