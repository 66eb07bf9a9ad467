"""The mutation score per module, as a Markdown table, from the last ``mutmut run`` (see MUTATION.md).

    mutmut run --max-children 2 && python benchmarks/mutation_score.py

Killed counts mutants that made a test fail, time out or crash the run; every other mutant
(survived, no test reaches it, not checked yet) counts against the score.
"""

from __future__ import annotations

import collections
import subprocess
import sys

KILLED = {"killed", "timeout", "segfault", "suspicious", "caught by type check"}


def main():
    out = subprocess.run(
        ["mutmut", "results", "--all", "true"], capture_output=True, text=True, check=True
    ).stdout
    counts = collections.defaultdict(collections.Counter)
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if not sep or not name.startswith("twolayer."):
            continue
        counts[name.split(".")[1]][status] += 1
    if not counts:
        sys.exit("no mutmut results: run `mutmut run` first")
    total = collections.Counter()
    print("| module | mutants | killed | survived | no test | not checked | score |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for module, c in sorted(counts.items()) + [("**all**", None)]:
        c = total if c is None else c
        if c is not total:
            total.update(c)
        n, killed = sum(c.values()), sum(v for k, v in c.items() if k in KILLED)
        print(
            f"| {module} | {n} | {killed} | {c['survived']} | {c['no tests']} | {c['not checked']} | "
            f"{100 * killed / n:.1f}% |"
        )


if __name__ == "__main__":
    main()
