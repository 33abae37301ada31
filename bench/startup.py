"""Snakemake start-up cost with and without the SLURM executor plugin installed.

The plugin runs `which sacct`, `which squeue` and `scontrol show config` (10 s timeout) whenever it is
loaded, which Snakemake does for every installed plugin, even for local runs. This measures
`snakemake --version` and a dry run of the bundled campaign in the project's venv (no plugin) and in a
layered venv with the plugin, and says whether a SLURM client and controller are present.

Usage: python bench/startup.py [repetitions]
"""

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from cluster.layered_venv import layered_venv  # noqa: E402

PLUGIN = "snakemake-executor-plugin-slurm==2.8.0"


def timed(cmd: list[str], repetitions: int) -> float:
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=REPO)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def controller_state() -> str:
    if shutil.which("scontrol") is None:
        return "no SLURM client installed"
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True)
    return "SLURM client installed, controller UP" if "UP" in ping.stdout else "SLURM client installed, no controller"


def main(repetitions: int = 3) -> None:
    print(f"machine: {controller_state()}")
    with tempfile.TemporaryDirectory() as tmp:
        with_plugin, install = layered_venv(Path(tmp) / "venv", [PLUGIN])
        install.check_returncode()
        results = {}
        for label, python in (("without plugin", Path(sys.executable)), ("with plugin", with_plugin)):
            version = timed([str(python), "-m", "snakemake", "--version"], repetitions)
            dry = timed([str(python), "-m", "snakemake", "-n", "-q", "--cores", "1"], repetitions)
            results[label] = (version, dry)
            print(f"  {label:15s} snakemake --version {version:5.2f} s   dry run of the bundled campaign {dry:5.2f} s")
    base, plugin = results["without plugin"], results["with plugin"]
    print(f"plugin cost: +{plugin[0] - base[0]:.2f} s per start ({plugin[0] / base[0]:.1f}x on --version)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
