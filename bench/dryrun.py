"""`snakemake -n` on 1,000 and 5,000 candidate folders (target: at most 5 s for 1,000).

Each folder is a scalar-only candidate (its own learning rate), so the DAG holds validate, simulate
and score jobs for every one. Prints wall time and peak memory of the dry run.

Usage: python bench/dryrun.py [N ...]
"""

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
TARGET_S = 5.0


def make_campaign(root: Path, n: int) -> None:
    (root / "config.yaml").write_text("task: heart_disease\n")
    for index in range(n):
        folder = root / "candidates" / f"c{index:05d}"
        folder.mkdir(parents=True)
        meta = {
            "title": f"learning rate {0.0001 + index * 1e-6:.6f}",
            "hypothesis": "scalar sweep",
            "parent": "baseline",
            "family": "lr",
            "created": f"2026-11-24T00:{index // 3600 % 60:02d}:{index % 60:02d}+00:00",
            "args": {"lr": round(0.0001 + index * 1e-6, 7)},
            "patches": {},
        }
        (folder / "candidate.yaml").write_text(yaml.safe_dump(meta))


def dry_run(root: Path) -> tuple[float, float]:
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(root),
        "-n",
        "-q",
        "--cores",
        "1",
    ]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return elapsed, peak_mb


def main(sizes: list[int]) -> None:
    print("snakemake -n -q over N candidate folders")
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            make_campaign(Path(tmp), n)
            elapsed, peak = dry_run(Path(tmp))
        ratio = f", time / target = {elapsed / TARGET_S:.2f}" if n == 1000 else ""
        print(f"  N={n:5d}: {elapsed:6.2f} s, {elapsed / n * 1000:.2f} ms per candidate, peak RSS {peak:.0f} MB{ratio}")


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [1000, 5000])
