"""The aggregation audit: the real task aggregators pass it, servers that do not aggregate do not."""

import importlib.util
import json
import os
import sys

import numpy as np
import pytest
from conftest import REPO
from nvflare.app_common.abstract.fl_model import FLModel, ParamsType

from flcampaign.execution.aggregation_audit import (
    NOISE_MINIMUM,
    AuditedAggregator,
    judge,
    shipped_data,
    signature,
    update_problems,
    wrap,
)

AGGREGATORS = REPO / "flcampaign" / "tasks" / "_shared" / "src" / "aggregators.py"


@pytest.fixture(scope="module", autouse=True)
def task_aggregators():
    """The task's aggregators module importable as ``aggregators`` (as it is on the NVFlare server)."""
    spec = importlib.util.spec_from_file_location("aggregators", AGGREGATORS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules["aggregators"] = module
    yield module
    sys.modules.pop("aggregators", None)


def update(rng: np.random.Generator, site: int, scale: float = 0.05, **meta) -> FLModel:
    params = {"linear.weight": rng.normal(0, scale, (1, 13)).astype(np.float32), "linear.bias": rng.normal(0, scale, 1)}
    return FLModel(
        params_type=ParamsType.DIFF,
        params={k: v.astype(np.float32) for k, v in params.items()},
        metrics={"train_loss": 0.5, "train_accuracy": 0.7},
        meta={"NUM_STEPS_CURRENT_ROUND": 100, "NUM_TRAIN_SAMPLES": 50 + site, "client_name": f"site-{site}", **meta},
    )


def audit_rounds(inner: dict, rounds: int = 4, seed: int = 0) -> list[str]:
    """Run the audit around ``inner`` for some rounds of random updates; returns the audit lines."""
    read, write = os.pipe()
    audited = AuditedAggregator(json.dumps(inner), write)
    rng = np.random.default_rng(seed)
    for _ in range(rounds):
        audited.reset_stats()
        for site in range(1, 5):
            audited.accept_model(update(rng, site))
        audited.aggregate_model()
    os.close(write)
    with os.fdopen(read) as stream:
        return stream.read().splitlines()


HONEST = [
    {"path": "aggregators.CampaignAggregator", "args": {"method": method}}
    for method in ("fedavg", "fedavgm", "fedadam", "median")
]


@pytest.mark.parametrize("inner", HONEST, ids=lambda c: c["args"]["method"])
def test_the_task_aggregators_pass(inner):
    lines = audit_rounds(inner)
    assert judge(lines, 4, signature(update(np.random.default_rng(0), 1).params)) is None
    records = [json.loads(line) for line in lines]
    assert all(r["zero"] == 0.0 and r["twin"] == 0.0 and r["noise"] > NOISE_MINIMUM * r["real"] for r in records)


def test_the_noise_margin_of_honest_aggregators_over_many_draws():
    """The ignores-updates rule's false alarms: over 50 seeds x 4 rounds x 4 methods no honest round comes near it."""
    margins = []
    for inner in HONEST:
        for seed in range(50):
            margins += [json.loads(line)["noise"] / json.loads(line)["real"] for line in audit_rounds(inner, seed=seed)]
    assert min(margins) > 10 * NOISE_MINIMUM


def test_an_aggregator_with_a_model_of_its_own_is_caught(task_aggregators):
    class Own(task_aggregators.CampaignAggregator):
        def aggregate_model(self):
            result = super().aggregate_model()
            result.params = {k: np.full_like(v, 0.02) for k, v in result.params.items()}
            return result

    class Sly(task_aggregators.CampaignAggregator):
        def aggregate_model(self):
            result = super().aggregate_model()
            moved = any(np.any(v != 0) for v in result.params.values())
            result.params = {k: np.full_like(v, 0.02) if moved else v for k, v in result.params.items()}
            return result

    class Drifting(task_aggregators.CampaignAggregator):
        def aggregate_model(self):
            result = super().aggregate_model()
            result.params = {k: v + 0.01 for k, v in result.params.items()}
            return result

    task_aggregators.Own, task_aggregators.Sly, task_aggregators.Drifting = Own, Sly, Drifting
    expected = {"Own": "aggregator-moves-without-updates", "Sly": "aggregator-ignores-updates"}
    expected["Drifting"] = "aggregator-moves-without-updates"
    for name, rule in expected.items():
        verdict = judge(audit_rounds({"path": f"aggregators.{name}", "args": {}}), 4, None)
        assert verdict is not None and verdict[0] == rule, (name, verdict)


def test_an_aggregator_that_depends_on_chance_is_not_reproducible(task_aggregators):
    class Noisy(task_aggregators.CampaignAggregator):
        def aggregate_model(self):
            result = super().aggregate_model()
            result.params = {k: v + np.random.normal(0, 1e-3, v.shape) for k, v in result.params.items()}
            return result

    task_aggregators.Noisy = Noisy
    verdict = judge(audit_rounds({"path": "aggregators.Noisy", "args": {}}), 4, None)
    assert verdict[0] in ("aggregator-reproducible", "aggregator-moves-without-updates")


def test_updates_carry_the_model_and_a_few_numbers_only():
    rng = np.random.default_rng(0)
    honest = update(rng, 1)
    expected = signature(honest.params)
    assert update_problems(honest, expected) == []
    rows = update(rng, 2)
    rows.metrics = {**rows.metrics, **{f"row{i}": float(i) for i in range(20)}}
    assert any("values in metrics and meta" in p for p in update_problems(rows, expected))
    extra = update(rng, 3)
    extra.params = {**extra.params, "data": np.zeros((200, 14), np.float32)}
    assert any("differ in names or shapes" in p for p in update_problems(extra, expected))
    hidden = update(rng, 4, table=np.zeros(50))
    assert any("ndarray, not a number" in p for p in update_problems(hidden, expected))
    text = update(rng, 4, note="x" * 500)
    assert any("string of 500 characters" in p for p in update_problems(text, expected))
    lines = [json.dumps({"round": 0, "problems": update_problems(rows, expected)})]
    assert shipped_data(lines).startswith("round 0: site-2")


def test_the_audit_lines_must_be_one_per_round():
    good = audit_rounds(HONEST[0], rounds=2)
    assert judge(good, 2, None) is None
    assert judge(good, 3, None)[0] == "audit-channel"  # a round was not audited
    assert judge(good + good[:1], 2, None)[0] == "audit-channel"  # a forged extra line
    assert judge(["not json"], 1, None)[0] == "audit-channel"
    assert judge(good, 2, "another-model")[0] == "client-update"


def test_wrap_puts_the_audit_around_the_candidate_aggregator_only():
    aggregator = {"path": "aggregators.CampaignAggregator", "args": {"method": "fedavgm"}}
    config = {
        "workflows": [{"path": "nvflare.app_common.workflows.fedavg.FedAvg", "args": {"aggregator": aggregator}}],
        "components": [{"id": "persistor", "path": "nvflare.app_opt.pt.file_model_persistor.PTFileModelPersistor",
                        "args": {"model": {"path": "model.HeartLogReg", "args": {}}}}],
    }  # fmt: skip
    problems, audited = wrap(config, 9)
    assert (problems, audited) == ([], True)
    wrapped = config["workflows"][0]["args"]["aggregator"]
    assert wrapped["path"] == "flcampaign.execution.aggregation_audit.AuditedAggregator"
    assert json.loads(wrapped["args"]["inner"]) == aggregator and wrapped["args"]["channel_fd"] == 9
    builtin = {"workflows": [{"path": "nvflare.app_common.workflows.fedavg.FedAvg", "args": {}}], "components": []}
    assert wrap(builtin, 9) == ([], False)
    spy = {**builtin, "components": [{"id": "spy", "path": "fl_extra_spy.Widget", "args": {}}]}
    assert "is not NVFlare's own" in wrap(spy, 9)[0][0]
    filters = {**builtin, "task_result_filters": [{"tasks": ["train"], "filters": [{"path": "fl_extra_f.Tap"}]}]}
    assert "task_result_filters" in wrap(filters, 9)[0][0]
    other = {"workflows": [{"path": "nvflare.app_common.workflows.scatter_and_gather.ScatterAndGather"}]}
    assert "must be NVFlare's FedAvg" in wrap(other, 9)[0][0]


def test_signature_is_names_and_shapes():
    a = {"w": np.zeros((2, 3)), "b": np.zeros(2)}
    assert signature(a) == signature({"b": np.ones(2), "w": np.ones((2, 3))})
    assert signature(a) != signature({"w": np.zeros((3, 2)), "b": np.zeros(2)})
