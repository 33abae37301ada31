"""Throughput of k simultaneous full-budget simulations on this machine, k = 1, 2, 3, 4, 8.

Each simulation is the bundled baseline of heart_disease at its full budget, run by the runner (real
NVFlare, the sandbox the machine allows) in its own process, as a Snakemake job would run it; the k
of a batch start together. Per k it prints the batch's wall time, the throughput relative to one at a
time (the ideal is k), each run's wall and CPU seconds, its peak memory and the machine's lowest free
memory during the batch. The slot count `flcampaign.execution.capacity` would choose from the k = 1
run's measured footprint is printed next to the knee of the measured curve.

With ``--plot PATH`` it also draws the curve (throughput and per-run CPU seconds against k).

Usage: python bench/concurrency.py [--plot PATH] [k ...]
"""

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from flcampaign.contract.validation import validate_candidate
from flcampaign.data.splits import prepare
from flcampaign.execution.capacity import Footprint, slots_for
from flcampaign.execution.runner import simulate
from flcampaign.execution.sandbox import choose
from flcampaign.execution.slots import machine_slots
from flcampaign.files import read_json
from flcampaign.layout import Records
from flcampaign.task import Task

REPO = Path(__file__).resolve().parent.parent
CANDIDATE = "0000-baseline"


def one(scratch: Path, label: str, seed: int, slots: int) -> None:
    """A single simulation, in this process (the benchmark starts one process per simulation)."""
    task = Task.load(REPO / "flcampaign" / "tasks" / "heart_disease")
    records = Records(scratch / "results")
    validation = read_json(records.validation(CANDIDATE))
    out, work = scratch / "runs" / label, scratch / "work" / label
    simulate(
        task, validation, records.tree(CANDIDATE), records.split("train"), "search", seed, out, work,
        machine_slots(1, slots), scratch / "slots", choose("auto"),
    )  # fmt: skip


def lowest_free_memory(stop: threading.Event, found: list[float]) -> None:
    while not stop.wait(0.5):
        found.append(psutil.virtual_memory().available / 2**20)


def batch(scratch: Path, k: int) -> dict:
    """k simulations started together; their records and the batch's wall time."""
    free: list[float] = [psutil.virtual_memory().available / 2**20]
    stop = threading.Event()
    sampler = threading.Thread(target=lowest_free_memory, args=(stop, free), daemon=True)
    sampler.start()
    start = time.perf_counter()
    labels = [f"k{k}-{index}" for index in range(k)]
    procs = [
        subprocess.Popen([sys.executable, __file__, "--one", str(scratch), label, str(index), str(k)])
        for index, label in enumerate(labels)
    ]
    for proc in procs:
        if proc.wait() != 0:
            raise SystemExit(f"a simulation process of batch k={k} failed")
    wall = time.perf_counter() - start
    stop.set()
    sampler.join()
    runs = [read_json(scratch / "runs" / label / "run.json") for label in labels]
    failed = [run for run in runs if run["state"] != "ok"]
    if failed:
        raise SystemExit(f"k={k}: run {failed[0]['state']}: {failed[0]['reason']}")
    return {"k": k, "wall": wall, "runs": runs, "lowest_free_mb": min(free)}


def cpu_limit(results: list[dict], one_at_a_time: float) -> float:
    """The throughput (relative to one at a time) if the cores did nothing but the runs' CPU work."""
    single = next(r for r in results if r["k"] == 1)["runs"][0]
    return len(os.sched_getaffinity(0)) * one_at_a_time / single["compute"]["cpu_seconds"]


def plot(results: list[dict], one_at_a_time: float, chosen: int, path: Path) -> None:
    """Throughput against k next to the ideal, the 0.8 k line and the CPU limit, and the CPU seconds a run costs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = [r["k"] for r in results]
    speedups = [r["k"] * one_at_a_time / r["wall"] for r in results]
    cpu = [statistics.median(run["compute"]["cpu_seconds"] for run in r["runs"]) for r in results]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(ks, ks, "--", color="grey", label="ideal (k x one)")
    left.plot(ks, [0.8 * k for k in ks], ":", color="grey", label="0.8 k")
    left.axhline(cpu_limit(results, one_at_a_time), color="tab:red", alpha=0.6, label="CPU limit (cores / CPU-s)")
    left.plot(ks, speedups, "o-", color="tab:blue", label="measured")
    left.axvline(chosen, color="tab:green", alpha=0.5, label=f"slots chosen: {chosen}")
    left.set(xlabel="simulations started together (k)", ylabel="throughput / one at a time", xticks=ks)
    left.set_title(f"{psutil.cpu_count()} cores: throughput", fontsize=10)
    left.legend(fontsize=8)
    right.plot(ks, cpu, "o-", color="tab:red")
    right.set(xlabel="simulations started together (k)", ylabel="CPU seconds per run (median)", xticks=ks)
    right.set_ylim(bottom=0)
    right.set_title("what one run costs the machine", fontsize=10)
    figure.suptitle("heart_disease, full budget, one simulation per process (bench/concurrency.py)", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(ks: list[int], plot_path: Path | None) -> None:
    task = Task.load(REPO / "flcampaign" / "tasks" / "heart_disease")
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        records = Records(scratch / "results")
        prepare(task, records.splits)
        validate_candidate(REPO / "candidates", CANDIDATE, task, records.root)
        results = []
        for k in ks:
            results.append(batch(scratch, k))
            print(f"  k={k}: {results[-1]['wall']:.1f} s", flush=True)
    one_at_a_time = next(r["wall"] for r in results if r["k"] == 1)
    print(f"\n{task.name} at its full budget, {psutil.cpu_count()} cores, "
          f"{psutil.virtual_memory().total / 2**30:.1f} GiB; k simulations started together:\n")  # fmt: skip
    header = f"{'k':>3} {'batch s':>8} {'throughput':>11} {'ideal':>6} {'of ideal':>9} {'run s (median)':>15} "
    print(header + f"{'CPU-s/run':>10} {'peak MB/run':>12} {'lowest free MB':>15}")
    for result in results:
        runs, k = result["runs"], result["k"]
        speedup = k * one_at_a_time / result["wall"]
        wall = statistics.median(run["runtime_seconds"] for run in runs)
        cpu = statistics.median(run["compute"]["cpu_seconds"] for run in runs)
        peak = max(run["caps"]["peak_memory_mb"] for run in runs)
        print(f"{k:>3} {result['wall']:>8.1f} {speedup:>10.2f}x {k:>5}x {speedup / k:>8.0%} {wall:>15.1f} "
              f"{cpu:>10.1f} {peak:>12.0f} {result['lowest_free_mb']:>15.0f}")  # fmt: skip
    single = next(r for r in results if r["k"] == 1)["runs"][0]
    footprint = Footprint.of([single])
    if footprint is None:
        raise SystemExit("the single run recorded no CPU seconds or peak memory")
    chosen = slots_for(footprint, len(os.sched_getaffinity(0)), psutil.virtual_memory().total / 2**20)
    busy, peak = footprint.busy_cores, footprint.peak_memory_mb
    print(f"\nfootprint of one run: {busy:.2f} cores busy on average, peak {peak:.0f} MB")
    print(f"slots flcampaign.execution.capacity chooses from it: {chosen}")
    print(
        f"physical limit: {cpu_limit(results, one_at_a_time):.2f}x one at a time, if the cores did nothing but the "
        "runs' CPU work (cores x one run's wall / its CPU seconds)"
    )
    if plot_path is not None:
        plot(results, one_at_a_time, chosen, plot_path)
        print(f"plot: {plot_path}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        one(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        begin = time.perf_counter()
        arguments = sys.argv[1:]
        plot_to = Path(arguments.pop(arguments.index("--plot") + 1)) if "--plot" in arguments else None
        counts = [int(v) for v in arguments if v != "--plot"]
        main(counts or [1, 2, 3, 4, 8], plot_to)
        print(f"(benchmark took {time.perf_counter() - begin:.0f} s)")
