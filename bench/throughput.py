"""Campaign throughput with 1 vs 2 concurrent simulations on this machine, as a ratio.

Runs the same small campaign (the baseline and three scalar candidates, real NVFlare simulations at
a shortened budget) to the ledger twice, with `--resources gpu=1` and `gpu=2`.

Usage: python bench/throughput.py [rounds]
"""

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CANDIDATES = ("0000-baseline", "0002-fedavgm", "0003-median", "0004-more-local-steps")


def run_campaign(workdir: Path, slots: int, rounds: int) -> float:
    for cid in CANDIDATES:
        shutil.copytree(REPO / "candidates" / cid, workdir / "candidates" / cid)
    (workdir / "config.yaml").write_text(f"task: heart_disease\nnum_rounds: {rounds}\n")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), "-q"]
    cmd += ["--cores", "2", f"--resources=gpu={slots}"]
    setup = ["results/task/splits.json", *(f"results/candidates/{cid}/validation.json" for cid in CANDIDATES)]
    subprocess.run([*cmd, *setup], check=True, capture_output=True, cwd=workdir)  # not timed: splits, validation
    start = time.perf_counter()
    subprocess.run([*cmd, "results/results.tsv"], check=True, capture_output=True, cwd=workdir)
    return time.perf_counter() - start


def main(rounds: int = 5) -> None:
    times = {}
    for slots in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            times[slots] = run_campaign(Path(tmp), slots, rounds)
        per_hour = len(CANDIDATES) / times[slots] * 3600
        print(f"{slots} concurrent simulation(s): {times[slots]:.1f} s for {len(CANDIDATES)} candidates "
              f"({rounds} rounds each), {per_hour:.0f} candidates per hour")  # fmt: skip
    print(f"throughput ratio 2 vs 1 concurrent: {times[1] / times[2]:.2f}x (2 cores)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
