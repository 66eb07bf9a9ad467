"""How many BLAS threads training uses: from the size of its products and from the cores that
other processes leave free. Its own module, so that the policy can change alone.

OpenBLAS's threads spin while they wait for one another: beside two busy processes on two cores,
two threads train 2–12× slower than one. So a second thread is used only for products large
enough to gain from it, and only on a core that no other process is using. The load is read from
/proc/stat (CPU time on our cores since the last look, minus our own), which, unlike the load
average, is current; it is looked at again at epoch ends, every REFRESH seconds.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable
from typing import Any, NamedTuple

# multiply-adds in X·W1 below which a second BLAS thread costs more than it gains
SMALL_GEMM = 4_000_000
BUSY = 0.3  # a core on which other processes use more than this share of the time is taken
WINDOW = 0.1  # seconds: the shortest look at the load (a shorter one waits out the rest)
STALE = 30.0  # seconds: a first look older than this is taken afresh
REFRESH = 2.0  # seconds between looks during training (at epoch ends)


class Choice(NamedTuple):
    """A thread count and why, as said in --debug / verbose output."""

    threads: int
    reason: str

    def __str__(self):
        return f"BLAS threads: {self.threads} ({self.reason})"


def choose(work: int, cores: int, others: float | None, requested: int | None = None) -> Choice:
    """The thread count for products of ``work`` multiply-adds per X·W1 on ``cores`` usable cores
    of which other processes keep ``others`` busy (None: unknown); ``requested`` (not None) wins."""
    if requested is not None:
        return Choice(requested, "as asked")
    if work < SMALL_GEMM:
        return Choice(1, f"{work / 1e6:.1f}M multiply-adds per step: one thread is faster")
    if others is None:
        return Choice(cores, f"{cores} cores, the load of other processes unknown")
    free = math.floor(cores - others + BUSY)  # cores the other processes leave (almost) idle
    return Choice(
        max(1, min(cores, free)), f"{cores} cores, load {others:.1f} from other processes"
    )


# -- the machine ---------------------------------------------------------------------------
class Sample(NamedTuple):
    wall: float  # time.monotonic()
    busy: float  # CPU seconds of every process on our cores (since boot)
    own: float  # this process's CPU seconds (every thread)


PROC_STAT = "/proc/stat"  # Linux's CPU time per core since boot


def our_cpus() -> set[int] | None:
    """The cores this process may run on (its affinity: taskset, a container's cpuset); None
    where the system does not say (macOS, Windows)."""
    if hasattr(os, "sched_getaffinity"):
        return set(os.sched_getaffinity(0))
    return None


def usable_cores() -> int:
    """How many cores this process may run on."""
    cpus = our_cpus()
    return len(cpus) if cpus is not None else os.cpu_count() or 1


def parse_stat(text: str, cpus: set[int] | None = None) -> float:
    """Busy ticks (user, nice, system, irq, softirq, steal) on ``cpus`` (None: all) in /proc/stat's text."""
    total = 0
    for line in text.splitlines():
        name, _, rest = line.partition(" ")
        if not (name.startswith("cpu") and name[3:].isdigit()):
            continue
        if cpus is not None and int(name[3:]) not in cpus:
            continue
        ticks = [int(v) for v in rest.split()]
        total += sum(ticks[:3]) + sum(ticks[5:8])  # skip idle and iowait
    return total


def sample() -> Sample | None:
    """The machine's and this process's CPU time now; None where /proc/stat cannot be read."""
    try:
        with open(PROC_STAT) as f:
            text = f.read()
        busy = parse_stat(text, our_cpus()) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, AttributeError):
        return None
    return Sample(time.monotonic(), busy, time.process_time())


def others_load(before: Sample, after: Sample) -> float:
    """Cores kept busy by other processes between two samples, on average."""
    wall = after.wall - before.wall
    if wall <= 0:
        return 0.0
    return max(0.0, ((after.busy - before.busy) - (after.own - before.own)) / wall)


class Load:
    """The load of other processes since the last look (the first look: at import)."""

    def __init__(self, sleep: Callable[[float], Any] = time.sleep) -> None:
        self.last = sample()
        self.sleep = sleep

    def look(self) -> float | None:
        """Other processes' load since the last look, which must be WINDOW long (waited out if it
        is not) and not older than STALE (taken afresh if it is); None where it cannot be known."""
        now = sample()
        if now is None or self.last is None:
            return _loadavg_others()
        if now.wall - self.last.wall > STALE:
            self.last = now
        if now.wall - self.last.wall < WINDOW:
            self.sleep(WINDOW - (now.wall - self.last.wall))
            now = sample() or now
        load = others_load(self.last, now)
        self.last = now
        return load

    def age(self) -> float:
        return math.inf if self.last is None else time.monotonic() - self.last.wall


def _loadavg_others() -> float | None:
    """Without /proc/stat (macOS): the 1-minute load average less this process, or None."""
    try:
        return max(0.0, os.getloadavg()[0] - 1.0)
    except (OSError, AttributeError):
        return None


LOAD = Load()  # looked at first on import, so that the first choice sees the start-up's window


# -- applying it ---------------------------------------------------------------------------
class BlasThreads:
    """``with BlasThreads(work, requested, note):`` BLAS runs on the chosen thread count inside,
    as set before outside; ``refresh()`` (at an epoch end) looks at the load again every REFRESH
    seconds and changes the count when it changed. ``note`` is told every choice."""

    def __init__(
        self,
        work: int,
        requested: int | None = None,
        note: Callable[[str], object] | None = None,
        load: Load | None = None,
    ) -> None:
        self.work, self.requested, self.note = work, requested, note
        self.load = load or LOAD
        self.choice: Choice | None = None
        self._limits: list[Any] = []
        self._ceiling: int | None = None

    def __enter__(self) -> BlasThreads:
        self._apply(self._choose())
        return self

    def __exit__(self, *exc) -> None:
        while self._limits:
            self._limits.pop().restore_original_limits()

    def refresh(self, epoch: int) -> None:
        """After ``epoch``: look at the load again if REFRESH seconds have passed, and apply a
        changed choice."""
        if self.requested is not None or self.work < SMALL_GEMM or self.load.age() < REFRESH:
            return
        before = self.choice
        choice = self._choose()
        if before is not None and choice.threads != before.threads:
            self._apply(choice, f"{before.threads} → {choice.threads} after epoch {epoch}")

    def _choose(self) -> Choice:
        if self.requested is not None or self.work < SMALL_GEMM:  # no need to look at the load
            return choose(self.work, 1, None, self.requested)
        if self._ceiling is None:  # BLAS's own count (OPENBLAS_NUM_THREADS…), before our limits
            self._ceiling = blas_threads()
        return choose(self.work, min(usable_cores(), self._ceiling), self.load.look())

    def _apply(self, choice: Choice, change: str = "") -> None:
        self.choice = choice
        if self.note is not None:
            self.note(f"BLAS threads: {change} ({choice.reason})" if change else str(choice))
        if choice.threads != blas_threads():
            self._limits.append(controller().limit(limits=choice.threads, user_api="blas"))


def limited(threads: int | None):
    """BLAS on ``threads`` threads inside (None: as set); for the scoring after training."""
    if threads is None or threads == blas_threads():
        return contextlib.nullcontext()
    return controller().limit(limits=threads, user_api="blas")


def blas_threads() -> int:
    """NumPy's BLAS thread count now (the largest, should several BLAS libraries be loaded)."""
    counts = [i["num_threads"] for i in controller().info() if i["user_api"] == "blas"]
    return max(counts, default=1)


def controller() -> Any:
    """threadpoolctl's ThreadpoolController, made on first use (its import costs ~10 ms)."""
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller


_controller: Any = None
