"""``make bench``: run every ``bench_*.py`` here in turn; each prints its own table."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path


def main() -> int:
    here = Path(__file__).parent
    only = sys.argv[1:]
    for path in sorted(here.glob("bench_*.py")):
        if only and path.stem not in only:
            continue
        print(f"\n## {path.stem}\n", flush=True)
        runpy.run_path(str(path), run_name="__main__")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
