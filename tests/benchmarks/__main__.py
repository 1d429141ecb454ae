"""``make bench``: run every ``bench_*.py`` here in turn; each prints its own table.

Each benchmark runs in a process of its own (one named on the command line runs in this one):
run one after another in a single process, a later benchmark inherited what the earlier ones
left behind — a larger heap, glibc's raised mmap threshold, the collector's generations — and
measured slower (``CheckLocations`` 3.4× after ``bench_evidence``, 4.0–4.1× alone).
A benchmark that fails does not stop the others; the run then exits non-zero and names it.
"""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path


def main() -> int:
    here = Path(__file__).parent
    only = sys.argv[1:]
    paths = [p for p in sorted(here.glob("bench_*.py")) if not only or p.stem in only]
    if len(paths) == 1:
        print(f"\n## {paths[0].stem}\n", flush=True)
        runpy.run_path(str(paths[0]), run_name="__main__")
        return 0
    failed = []
    for path in paths:
        done = subprocess.run(
            [sys.executable, "-m", "tests.benchmarks", path.stem], cwd=here.parents[1], check=False
        )
        if done.returncode != 0:
            failed.append(f"{path.stem} (exit {done.returncode})")
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
