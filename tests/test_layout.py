"""The architecture a maintainer reads: imports flow one way, and they stand at the top of each module;
the commands that must start fast import no heavy library."""

import ast
from pathlib import Path

import numpy as np
import pytest
from helpers import run_python

import twolayer

SRC = Path(twolayer.__file__).parent
# heavy third-party libraries may be imported where they are used; the package's own modules may not
LAZY_OK = {
    ("twolayer", "twolayer.estimator"),
    ("twolayer", "twolayer.sklearn_mlp"),
}  # the package root loads the estimators (scikit-learn) on demand


def module_name(path):
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def internal_imports(path):
    """(module-level, function-level) sets of twolayer modules imported by the file at ``path``."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text())
    top, nested = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            targets = {target}
            if not node.module:  # from . import x → the submodule x
                targets = {f"{target}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            targets = {a.name for a in node.names}
        else:
            continue
        targets = {t for t in targets if t == "twolayer" or t.startswith("twolayer.")}
        (top if node in tree.body else nested).update(
            targets
        )  # `if TYPE_CHECKING:` blocks count as nested
    return top, nested


def modules():
    return {module_name(p): p for p in SRC.rglob("*.py")}


def test_the_package_imports_its_own_modules_at_the_top_only():
    nested = {(name, t) for name, path in modules().items() for t in internal_imports(path)[1]}
    assert nested - LAZY_OK == set()


def find_cycle(graph):
    """A list of modules forming an import cycle in ``graph`` ({module: imported modules}), or None."""
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt, stack + [nxt])
                if found:
                    return found
        state[node] = "done"
        return None

    for name in sorted(graph):
        if name not in state:
            found = visit(name, [name])
            if found:
                return found
    return None


def test_there_are_no_import_cycles():
    mods = modules()
    # every import counts, function-level and type-only ones too: a cycle hidden in a function is still one
    graph = {
        name: {t for t in set().union(*internal_imports(path)) if t in mods and t != name}
        for name, path in mods.items()
    }
    assert find_cycle(graph) is None


def test_the_checker_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def reachable(graph, start):
    """Every module ``start`` imports, directly or through others."""
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_the_loop_and_the_model_file_never_reach_the_model():
    """The loop drives the Model protocol only, and net.py builds itself from what modelfile.py
    reads: none of them imports net.py, not even through another module (net.py imports them)."""
    mods = modules()
    graph = {name: set().union(*internal_imports(path)) for name, path in mods.items()}
    for name in ("train", "checkpoint", "classic", "threads", "modelfile"):
        assert "twolayer.net" not in reachable(graph, f"twolayer.{name}"), name
    assert {"twolayer.classic", "twolayer.modelfile"} <= graph["twolayer.net"]
    assert reachable({"a": {"b"}, "b": {"c"}, "c": {"a"}}, "a") == {"a", "b", "c"}


def test_only_locks_takes_file_locks():
    """One lock helper: no other module imports fcntl or msvcrt (tune once had its own flock copy)."""
    lockers = set()
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported = {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported = {node.module or ""}
            else:
                continue
            if imported & {"fcntl", "msvcrt"}:
                lockers.add(name)
    assert lockers == {"twolayer.locks"}


def test_a_runs_data_is_loaded_by_runs_only():
    """runs.load_run_data is the one loader of a run's data (with its seed rule): no other module
    outside twolayer.data calls data.load itself."""
    callers = set()
    for name, path in modules().items():
        if name.startswith("twolayer.data") or name == "twolayer.runs":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module in ("data", "twolayer.data"):
                if any(a.name == "load" for a in node.names):
                    callers.add(name)
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "load"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in ("data", "data_mod")
            ):
                callers.add(name)
    assert callers == set(), callers


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [
        ["train", "--epochs", "1", "--hidden", "8", "--quiet"],
        ["evaluate", "{run}/model.npz"],
        ["predict", "{run}/model.npz", "{rows}"],
    ],
)
def test_command_line_paths_import_no_heavy_library(tmp_path, command):
    """The start-up budget of issue 13: train (pictures included), evaluate and predict never
    import scikit-learn, SciPy, matplotlib or pandas (about a second of imports together), and
    evaluate and predict draw nothing, so they do not import Pillow either."""
    from twolayer.cli import main
    from twolayer.data import load

    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--epochs", "1", "--hidden", "8", "--quiet"]) == 0
    np.save(tmp_path / "rows.npy", load("digits").X_test[:5])
    args = [a.format(run=run, rows=tmp_path / "rows.npy") for a in command]
    if args[0] == "train":
        args += ["--out", str(tmp_path / "again")]
    code = (
        "import sys\nfrom twolayer.cli import main\ntry:\n    main({!r})\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in {!r} if m in sys.modules))".format(
            args,
            ("sklearn", "scipy", "matplotlib", "pandas") + (("PIL",) if args[0] != "train" else ()),
        )
    )
    done = run_python(code, timeout=None, cwd=tmp_path)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr
