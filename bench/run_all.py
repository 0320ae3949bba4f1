"""Run every benchmark in bench/ (each in its own process) and print their figures."""

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def main() -> int:
    failed = 0
    for script in sorted(BENCH.glob("bench_*.py")):
        print(f"\n>>> {script.stem}", flush=True)
        result = subprocess.run([sys.executable, "-m", f"bench.{script.stem}"], cwd=BENCH.parent)
        failed += result.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
