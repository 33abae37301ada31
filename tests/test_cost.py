"""Cost: each run's measured cost in the ledger, totals per phase, self-reported cost kept apart."""

import pytest

from flcampaign.evidence.cost import campaign_cost, run_cost
from flcampaign.evidence.ledger import _compute_columns
from flcampaign.files import write_json
from flcampaign.layout import Records
from flcampaign.schemas import schema_errors


def run(state: str = "ok", wall: float = 10.0, cpu: float = 12.0, gpu: float | None = None, peak: float = 500.0,
        device: str = "cpu", slot: str = "cpu0") -> dict:  # fmt: skip
    return {
        "record": "run",
        "state": state,
        "runtime_seconds": wall,
        "compute": {"cpu_seconds": cpu, "gpu_seconds": gpu},
        "caps": {"peak_memory_mb": peak},
        "device": device,
        "slot": slot,
    }


def put(records: Records, phase: str, cid: str, seed: int, record: dict, predict: float | None = None,
        heldout: float | None = None) -> None:  # fmt: skip
    write_json(records.run_record(phase, cid, seed), record)
    if predict is not None:
        write_json(records.score_record(phase, cid, seed), {"state": "ok", "predict_seconds": predict})
    if heldout is not None:
        write_json(records.heldout_record(cid, seed), {"state": "ok", "predict_seconds": heldout})


def test_run_cost_reads_what_the_runner_measured():
    assert run_cost(run(gpu=3.5, device="cuda:1", slot="gpu1")) == {
        "wall_seconds": 10.0,
        "cpu_seconds": 12.0,
        "gpu_seconds": 3.5,
        "peak_memory_mb": 500.0,
        "device": "cuda:1",
        "slot": "gpu1",
    }
    assert run_cost(None)["cpu_seconds"] is None


def test_phase_totals_sum_times_keep_the_peak_and_skip_runs_that_did_not_run(tmp_path):
    records = Records(tmp_path / "results")
    put(records, "search", "a", 0, run(wall=10, cpu=12, peak=400), predict=1.0)
    put(records, "search", "b", 0, run(wall=20, cpu=30, peak=900), predict=2.0)
    put(records, "search", "c", 0, {"record": "run", "state": "skipped"})
    put(records, "repeat", "a", 42, run(wall=5, cpu=6, gpu=2.0, peak=300, device="cuda:0"), predict=0.5, heldout=0.25)
    cost = campaign_cost(records.root)
    search, repeat, heldout = (cost["phases"][name] for name in ("search", "repeat", "heldout"))
    assert (search["runs"], search["wall_seconds"], search["cpu_seconds"]) == (2, 30.0, 42.0)
    assert search["peak_memory_mb"] == 900.0 and search["gpu_seconds"] is None
    assert search["scoring_seconds"] == 3.0
    assert repeat["gpu_seconds"] == 2.0 and repeat["devices"] == ["cuda:0"]
    assert (heldout["runs"], heldout["scoring_seconds"]) == (1, 0.2)  # rounded to 0.1 s
    totals = cost["totals"]
    assert (totals["runs"], totals["wall_seconds"], totals["gpu_seconds"]) == (3, 35.0, 2.0)
    assert totals["peak_memory_mb"] == 900.0 and sorted(totals["devices"]) == ["cpu", "cuda:0"]
    assert list(cost["phases"]) == ["search", "repeat", "heldout"]


def test_self_reported_cost_is_summed_apart(tmp_path):
    records = Records(tmp_path / "results")
    write_json(records.validation("a"), {"meta": {"cost": {"tokens": 1200, "usd": 0.5}}})
    write_json(records.validation("b"), {"meta": {"cost": {"tokens": 800}}})
    write_json(records.validation("c"), {"meta": {}})
    cost = campaign_cost(records.root)
    assert cost["self_reported"] == {"tokens": 2000.0, "usd": 0.5, "candidates": 2}
    assert cost["totals"]["runs"] == 0


@pytest.mark.parametrize("meta", [{"cost": {"tokens": -1}}, {"cost": {"dollars": 3}}, {"cost": "a lot"}])
def test_candidate_cost_must_follow_the_schema(meta):
    base = {"title": "t", "hypothesis": "h", "parent": "baseline", "family": "f", "created": "2026-01-01T00:00:00Z",
            "patches": {}}  # fmt: skip
    assert schema_errors("candidate", base | {"cost": {"tokens": 10, "usd": 0.1}}) == []
    assert schema_errors("candidate", base | meta)


def test_ledger_rows_carry_peak_memory_device_and_slot():
    columns = _compute_columns(run(peak=1234.56, device="cuda:0", slot="gpu0", gpu=1.25), None)
    assert columns["peak_memory_mb"] == 1234.6
    assert (columns["device"], columns["slot"], columns["gpu_seconds"], columns["runtime_seconds"]) == (
        "cuda:0",
        "gpu0",
        1.25,
        10.0,
    )
