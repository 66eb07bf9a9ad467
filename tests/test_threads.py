"""The BLAS thread policy (threads.py): the decision from faked core counts and loads, the load read
from /proc/stat, the limits applied and restored, and threads= / --threads honoured and checked."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import run_main
from threadpoolctl import threadpool_info

from twolayer import TwoLayerNet, threads
from twolayer.settings import SettingError, SettingTypeError
from twolayer.threads import SMALL_GEMM, BlasThreads, Choice, Load, Sample, choose, parse_stat
from twolayer.train import TrainConfig, Trainer

BIG = 64 * 784 * 512  # an MNIST-sized step: X·W1 of a 64-row batch, 512 hidden units


def numpy_blas_threads():
    """NumPy's BLAS (SciPy may bring its own, loaded after a limit was set up)."""
    return [
        p["num_threads"]
        for p in threadpool_info()
        if p["user_api"] == "blas" and "numpy" in p["filepath"]
    ]


def openmp_threads():
    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "openmp"]


class FakeLoad(Load):
    """Other processes' load as the test says, and as old as it says."""

    def __init__(self, others, age=100.0):
        self.others, self._age, self.looks = others, age, 0

    def look(self):
        self.looks += 1
        return self.others

    def age(self):
        return self._age


@pytest.fixture
def quiet(monkeypatch):
    """A quiet machine with two usable cores and BLAS on two threads: auto would choose 2."""
    monkeypatch.setattr(threads, "LOAD", FakeLoad(0.0))
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    monkeypatch.setattr(threads, "blas_threads", lambda: max(numpy_blas_threads()))
    return threads.LOAD


# -- the decision ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cores, others, expected",
    [
        (2, 0.0, 2),  # quiet: both cores
        (2, 0.25, 2),  # a little background (a daemon, a terminal) leaves a core free
        (2, 0.35, 1),  # one core taken
        (2, 1.0, 1),
        (2, 2.1, 1),  # both taken: one thread, never none
        (2, 5.0, 1),
        (8, 2.1, 6),
        (8, 0.0, 8),
        (1, 0.0, 1),
        (2, None, 2),  # unknown load (no /proc/stat, no load average): as BLAS would
    ],
)
def test_large_problems_take_the_cores_other_processes_leave(cores, others, expected):
    assert choose(SMALL_GEMM, cores, others).threads == expected


def test_small_problems_take_one_thread_whatever_the_load():
    for others in (0.0, 3.0, None):
        choice = choose(SMALL_GEMM - 1, 8, others)
        assert choice == Choice(1, "4.0M multiply-adds per step: one thread is faster")


def test_a_requested_count_wins():
    assert choose(1, 2, 5.0, requested=2) == Choice(2, "as asked")
    assert choose(BIG, 2, 0.0, requested=1).threads == 1
    assert choose(BIG, 2, 0.0, requested=None).threads == 2  # None: auto


def test_the_reason_names_cores_and_load():
    assert str(choose(BIG, 2, 2.1)) == "BLAS threads: 1 (2 cores, load 2.1 from other processes)"


# -- the load --------------------------------------------------------------------------------
STAT = """cpu  300 0 30 1000 5 0 0 0 0 0
cpu0 100 1 10 500 3 2 1 4 0 0
cpu1 200 0 20 500 2 0 0 0 0 0
intr 694207 0 0
ctxt 12345
"""


def test_busy_ticks_are_read_per_core_without_idle_and_iowait():
    assert parse_stat(STAT) == (100 + 1 + 10 + 2 + 1 + 4) + (200 + 20)
    assert parse_stat(STAT, {1}) == 220  # only the cores this process may use
    assert parse_stat("intr 5\n") == 0


def test_other_processes_load_is_the_busy_time_less_our_own():
    a = Sample(wall=10.0, busy=100.0, own=5.0)
    assert threads.others_load(a, Sample(11.0, 102.0, 5.0)) == 2.0  # two busy loops, us asleep
    assert threads.others_load(a, Sample(12.0, 104.0, 7.0)) == 1.0  # one loop beside our 1 core
    assert threads.others_load(a, Sample(11.0, 100.5, 6.0)) == 0.0  # never below 0
    assert threads.others_load(a, a) == 0.0


def test_a_look_waits_out_a_short_window_and_renews_a_stale_one(monkeypatch):
    now = {"t": 0.0}
    monkeypatch.setattr(
        threads, "sample", lambda: Sample(now["t"], 2 * now["t"], 0.0)
    )  # two cores busy
    slept = []

    def sleep(s):
        slept.append(s)
        now["t"] += s

    load = Load(sleep=sleep)
    now["t"] = 0.04
    assert load.look() == pytest.approx(2.0)
    assert slept == [pytest.approx(threads.WINDOW - 0.04)]
    now["t"] += 5.0
    assert load.look() == pytest.approx(2.0) and len(slept) == 1  # a long enough window
    now["t"] += threads.STALE + 1
    load.look()
    assert slept[-1] == pytest.approx(threads.WINDOW)  # too old: looked at afresh


class Machine:
    """/proc/stat in a file, a clock and this process's CPU time, moved on by ``run``: a fake
    two-core machine on which ``others`` cores are kept busy by other processes."""

    def __init__(self, path, monkeypatch):
        self.path, self.wall, self.own = path, 1000.0, 0.0
        self.ticks = [50_000, 50_000]  # busy ticks of cpu0 and cpu1 since boot
        self.hz = threads.os.sysconf("SC_CLK_TCK")
        self.write()
        monkeypatch.setattr(threads, "PROC_STAT", str(path))
        monkeypatch.setattr(threads, "our_cpus", lambda: {0, 1})
        monkeypatch.setattr(threads, "usable_cores", lambda: 2)
        monkeypatch.setattr(threads, "blas_threads", lambda: 2)
        monkeypatch.setattr(threads, "time", self)  # monotonic() and process_time() below

    def write(self):
        cores = "".join(f"cpu{i} {t} 0 0 90000 10 0 0 0 0 0\n" for i, t in enumerate(self.ticks))
        self.path.write_text(f"cpu  {sum(self.ticks)} 0 0 180000 20 0 0 0 0 0\n{cores}ctxt 9\n")

    def run(self, seconds, others, own=0.5):
        """``seconds`` pass with ``others`` cores busy elsewhere and ``own`` cores in use by us."""
        self.wall += seconds
        self.own += own * seconds
        busy = round((others + own) * seconds * self.hz)
        self.ticks = [self.ticks[0] + busy // 2, self.ticks[1] + busy - busy // 2]
        self.write()

    def monotonic(self):
        return self.wall

    def process_time(self):
        return self.own


@pytest.mark.parametrize(
    "others, expected",
    [(0.0, 2), (0.2, 2), (1.0, 1), (1.5, 1), (2.0, 1), (3.0, 1)],
)
def test_the_choice_follows_the_busy_cores_in_proc_stat(others, expected, tmp_path, monkeypatch):
    machine = Machine(tmp_path / "stat", monkeypatch)
    load = Load(sleep=lambda s: machine.run(s, others))
    machine.run(1.0, others)  # between the first look (at import) and training
    with BlasThreads(BIG, load=load) as b:
        assert b.choice.threads == expected
        assert b.choice.reason == f"2 cores, load {others:.1f} from other processes"


def test_a_busy_core_that_frees_up_is_taken_back_at_an_epoch_end(tmp_path, monkeypatch):
    machine = Machine(tmp_path / "stat", monkeypatch)
    load = Load(sleep=lambda s: machine.run(s, 1.0))
    machine.run(1.0, others=1.0)
    notes = []
    with BlasThreads(BIG, note=notes.append, load=load) as b:
        machine.run(threads.REFRESH / 2, others=0.0, own=1.0)
        b.refresh(1)  # too soon to look again
        machine.run(threads.REFRESH, others=0.0, own=1.0)
        b.refresh(2)
        assert b.choice.threads == 2
    assert notes == [
        "BLAS threads: 1 (2 cores, load 1.0 from other processes)",
        "BLAS threads: 1 → 2 after epoch 2 (2 cores, load 0.0 from other processes)",
    ]


def test_our_own_cpu_time_is_not_counted_as_load(tmp_path, monkeypatch):
    machine = Machine(tmp_path / "stat", monkeypatch)
    load = Load()
    machine.run(2.0, others=0.0, own=2.0)  # our two threads kept both cores busy
    assert load.look() == pytest.approx(0.0)


def test_without_proc_stat_the_load_average_stands_in(tmp_path, monkeypatch):
    monkeypatch.setattr(threads, "PROC_STAT", str(tmp_path / "no-such-file"))
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (3.5, 0.0, 0.0), raising=False)
    assert threads.sample() is None
    assert Load().look() == 2.5  # less this process
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    monkeypatch.setattr(threads, "blas_threads", lambda: 2)
    with BlasThreads(BIG, load=Load()) as b:
        assert b.choice == Choice(1, "2 cores, load 2.5 from other processes")


def test_a_garbled_proc_stat_counts_as_unreadable(tmp_path, monkeypatch):
    (tmp_path / "stat").write_text("cpu0 12 x 3\n")
    monkeypatch.setattr(threads, "PROC_STAT", str(tmp_path / "stat"))
    assert threads.sample() is None


def test_with_no_way_to_know_the_load_blas_keeps_its_own_count(tmp_path, monkeypatch):
    def no_loadavg():
        raise OSError("no load average")

    monkeypatch.setattr(threads, "PROC_STAT", str(tmp_path / "no-such-file"))
    monkeypatch.setattr(threads.os, "getloadavg", no_loadavg, raising=False)
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    monkeypatch.setattr(threads, "blas_threads", lambda: 2)
    with BlasThreads(BIG, load=Load()) as b:
        assert b.choice == Choice(2, "2 cores, the load of other processes unknown")


def test_the_real_machine_gives_a_load():
    load = threads.Load(sleep=lambda s: None).look()
    assert load is None or load >= 0.0


# -- applying it -----------------------------------------------------------------------------
def test_limits_apply_inside_and_are_restored_leaving_openmp_alone(quiet):
    import sklearn.utils  # noqa: F401 (loads scikit-learn's OpenMP runtime, which must be left alone)

    before, omp = numpy_blas_threads(), openmp_threads()
    with BlasThreads(SMALL_GEMM - 1) as b:
        assert b.choice.threads == 1 and all(n == 1 for n in numpy_blas_threads())
        assert openmp_threads() == omp
    assert numpy_blas_threads() == before
    quiet.others = 2.5
    with BlasThreads(BIG):
        assert all(n == 1 for n in numpy_blas_threads())
    assert numpy_blas_threads() == before


def test_refresh_follows_the_load_and_says_so(quiet):
    if max(numpy_blas_threads()) < 2:
        pytest.skip("BLAS runs on one thread here")
    notes = []
    with BlasThreads(BIG, note=notes.append) as b:
        assert numpy_blas_threads() == [2]
        quiet.others = 2.0
        b.refresh(3)
        assert numpy_blas_threads() == [1]
        quiet.others = 0.0
        b.refresh(4)
        assert numpy_blas_threads() == [2]
        quiet._age = 0.5  # looked at less than REFRESH seconds ago: not again
        quiet.others = 2.0
        b.refresh(5)
        assert numpy_blas_threads() == [2] and quiet.looks == 3
    assert notes == [
        "BLAS threads: 2 (2 cores, load 0.0 from other processes)",
        "BLAS threads: 2 → 1 after epoch 3 (2 cores, load 2.0 from other processes)",
        "BLAS threads: 1 → 2 after epoch 4 (2 cores, load 0.0 from other processes)",
    ]


def test_a_requested_count_never_looks_at_the_load(quiet):
    with BlasThreads(BIG, requested=1) as b:
        b.refresh(1)
        assert numpy_blas_threads() == [1]
    assert quiet.looks == 0


# -- threads= and --threads ------------------------------------------------------------------
def _threads_seen_by_steps(monkeypatch):
    seen = []
    step = Trainer.step

    def spy(self, *a, **kw):
        seen.append(max(numpy_blas_threads()))
        return step(self, *a, **kw)

    monkeypatch.setattr(Trainer, "step", spy)
    return seen


def test_the_loop_honours_threads(quiet, monkeypatch):
    seen = _threads_seen_by_steps(monkeypatch)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 784)), np.arange(40) % 3
    net = TwoLayerNet(784, 512, 3, seed=0)
    config = TrainConfig(epochs=1, batch_size=20, seed=0)
    Trainer(net, config, threads=1).fit(X, y)  # auto would take both cores: the work is BIG
    assert seen == [1, 1]
    if max(numpy_blas_threads()) >= 2:
        seen.clear()
        Trainer(net, config).fit(X, y)
        assert seen == [2, 2]


def test_the_loop_looks_at_the_load_again_at_epoch_ends(quiet, monkeypatch):
    if max(numpy_blas_threads()) < 2:
        pytest.skip("BLAS runs on one thread here")
    seen = _threads_seen_by_steps(monkeypatch)
    X, y = np.random.default_rng(0).standard_normal((20, 784)), np.arange(20) % 3
    trainer = Trainer(TwoLayerNet(784, 512, 3, seed=0), TrainConfig(epochs=3, batch_size=20))
    notes = []
    trainer.note = notes.append
    trainer.fit(X, y, on_epoch=lambda t: setattr(quiet, "others", 2.0))  # busy after epoch 1
    assert seen == [2, 1, 1] and trainer.blas.threads == 1
    assert notes[1].startswith("BLAS threads: 2 → 1 after epoch 1")


def test_train_threads_1_is_honoured_and_said_with_debug(quiet, tmp_path, capsys, monkeypatch):
    seen = _threads_seen_by_steps(monkeypatch)
    args = ["train", "--epochs", "1", "--hidden", "1024", "-q", "--no-plots"]  # 4.2M: auto says 2
    r = run_main([*args, "--threads", "1", "--out", tmp_path / "a", "--debug"], capsys)
    assert r.code == 0 and set(seen) == {1}
    assert "BLAS threads: 1 (as asked)" in r.err.splitlines()
    seen.clear()
    r = run_main([*args, "--out", tmp_path / "b", "--debug"], capsys)
    assert "BLAS threads: 2 (2 cores, load 0.0 from other processes)" in r.err.splitlines()
    r = run_main([*args, "--out", tmp_path / "c"], capsys)
    assert "BLAS threads" not in r.err  # only with --debug


@pytest.mark.parametrize(
    "value, line",
    [
        ("0", "--threads must be an integer in 1..1024 (or None: auto), got 0"),
        ("-1", "--threads must be an integer in 1..1024 (or None: auto), got -1"),
        ("1025", "--threads must be an integer in 1..1024 (or None: auto), got 1025"),
        ("abc", "Invalid value for '--threads'"),
        ("1e9", "Invalid value for '--threads'"),
        ("2.5", "Invalid value for '--threads'"),
    ],
)
def test_bad_threads_on_the_command_line_are_one_line(value, line, tmp_path, capsys):
    r = run_main(["train", "--threads", value, "--out", tmp_path / "run"], capsys)
    assert r.code == 2
    assert len(r.err.splitlines()) == 1 and r.err.startswith(f"twolayer: error: {line}")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("value", [0, 2.5, -1, 10**9, "2", True])
def test_bad_threads_in_python_name_the_parameter(value):
    X, y = np.ones((4, 2)), np.array([0, 1, 0, 1])
    net = TwoLayerNet(2, 3, 2, seed=0)
    error = SettingTypeError if not isinstance(value, int) or value is True else SettingError
    for call in (
        lambda: Trainer(net, TrainConfig(epochs=1), threads=value),
        lambda: net.train(X, y, X, y, num_iters=1, threads=value),
    ):
        with pytest.raises(
            ValueError, match=r"^threads must be an integer in 1\.\.1024 \(or None: auto\), got "
        ) as e:
            call()
        assert type(e.value) is error


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_estimator_takes_threads_checks_it_in_fit_and_says_it_when_verbose(capsys):
    from twolayer.estimator import TwoLayerClassifier

    X, y = np.random.default_rng(0).standard_normal((20, 3)), np.arange(20) % 2
    for value in (0, 2.5):
        clf = TwoLayerClassifier(threads=value, max_epochs=1)
        assert clf.get_params()["threads"] == value  # stored as given
        with pytest.raises(ValueError) as e:
            clf.fit(X, y)
        assert str(e.value) == f"threads must be an integer in 1..1024 (or None: auto), got {value}"
    TwoLayerClassifier(threads=1, max_epochs=1, verbose=True).fit(X, y)
    assert "BLAS threads: 1 (as asked)" in capsys.readouterr().out.splitlines()


def test_the_classic_train_honours_threads_and_says_it_when_verbose(monkeypatch, capsys):
    if max(numpy_blas_threads()) < 2:
        pytest.skip("BLAS runs on one thread here")
    net = TwoLayerNet(2, 3, 2, seed=0)
    seen = []
    step = net.forward_backward

    def spy(*a, **kw):  # the classic loop's own steps (it does not run the Trainer's)
        seen.append(max(numpy_blas_threads()))
        return step(*a, **kw)

    monkeypatch.setattr(net, "forward_backward", spy)
    X, y = np.ones((4, 2)), np.array([0, 1, 0, 1])
    net.train(X, y, X, y, num_iters=2, verbose=True, threads=2)
    assert seen == [2, 2]  # a tiny problem, which auto would give one thread
    out = capsys.readouterr()
    assert out.err == "BLAS threads: 2 (as asked)\n"  # on stderr: stdout is CS231n's lines
    assert out.out.startswith("iteration 0 / 2: loss ") and out.out.count("\n") == 1
