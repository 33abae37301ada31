"""Server-side aggregation of client DIFF updates.

Every aggregator receives client updates one by one (arrival order) and returns one DIFF that the
server adds to the global model. The server optimisers (FedAvgM, FedAdam) keep their state across
rounds; the coordinate-wise median ignores weights by design.
"""

import numpy as np
from nvflare.app_common.abstract.fl_model import FLModel, ParamsType
from nvflare.app_common.aggregators.model_aggregator import ModelAggregator


def client_weight(model: FLModel, weight_by: str = "samples") -> float:
    """FedAvg's weight of a client: its training-set size (McMahan et al.; FLamby), falling back to its step
    count, or its optimizer steps this round (``weight_by="steps"``, the reference Auto-FL ``weighted``)."""
    meta = model.meta or {}
    if weight_by == "steps":
        return float(meta.get("NUM_STEPS_CURRENT_ROUND", 1.0))
    return float(meta.get("NUM_TRAIN_SAMPLES", meta.get("NUM_STEPS_CURRENT_ROUND", 1.0)))


class CampaignAggregator(ModelAggregator):
    """Weighted FedAvg, FedAvgM, FedAdam or coordinate-wise median over DIFF updates."""

    def __init__(
        self,
        method: str = "fedavg",
        server_lr: float = 1.0,
        server_momentum: float = 0.9,
        beta2: float = 0.99,
        tau: float = 1e-3,
        weight_by: str = "samples",
    ):
        super().__init__()
        if method not in ("fedavg", "fedavgm", "fedadam", "median"):
            raise ValueError(f"unknown aggregation method {method!r}")
        if weight_by not in ("samples", "steps"):
            raise ValueError(f"unknown client weighting {weight_by!r}")
        self.method = method
        self.weight_by = weight_by
        self.server_lr = server_lr
        self.server_momentum = server_momentum
        self.beta2 = beta2
        self.tau = tau
        self._updates: list[tuple[dict, float, dict]] = []
        self._first_moment: dict = {}
        self._second_moment: dict = {}

    def accept_model(self, model: FLModel) -> None:
        if model.params_type != ParamsType.DIFF:
            raise ValueError(f"expected DIFF updates, got {model.params_type}")
        params = {name: np.asarray(value, dtype=np.float64) for name, value in model.params.items()}
        self._updates.append((params, client_weight(model, self.weight_by), dict(model.metrics or {})))

    def reset_stats(self) -> None:
        self._updates = []

    def aggregate_model(self) -> FLModel:
        if not self._updates:
            raise RuntimeError("no client updates to aggregate")
        names = list(self._updates[0][0])
        if self.method == "median":
            step = {n: np.median(np.stack([u[n] for u, _, _ in self._updates]), axis=0) for n in names}
        else:
            step = self._server_step(self._weighted_mean([(u, w) for u, w, _ in self._updates], names))
        metric_names = set.intersection(*(set(m) for _, _, m in self._updates))
        metrics = self._weighted_mean([(m, w) for _, w, m in self._updates], sorted(metric_names))
        self.reset_stats()
        params = {n: v.astype(np.float32) for n, v in step.items()}
        return FLModel(params_type=ParamsType.DIFF, params=params, metrics={k: float(v) for k, v in metrics.items()})

    @staticmethod
    def _weighted_mean(values: list[tuple[dict, float]], names: list[str]) -> dict:
        total = sum(weight for _, weight in values)
        if total <= 0:
            raise ValueError("total client weight is zero")
        return {n: sum(v[n] * w for v, w in values) / total for n in names}

    def _server_step(self, mean_diff: dict) -> dict:
        if self.method == "fedavg":
            return mean_diff
        if self.method == "fedavgm":
            for n, d in mean_diff.items():
                self._first_moment[n] = self.server_momentum * self._first_moment.get(n, 0.0) + d
            return {n: self.server_lr * m for n, m in self._first_moment.items()}
        for n, d in mean_diff.items():
            m = self.server_momentum * self._first_moment.get(n, 0.0) + (1 - self.server_momentum) * d
            v = self.beta2 * self._second_moment.get(n, 0.0) + (1 - self.beta2) * d * d
            self._first_moment[n], self._second_moment[n] = m, v
        return {
            n: self.server_lr * m / (np.sqrt(self._second_moment[n]) + self.tau) for n, m in self._first_moment.items()
        }
