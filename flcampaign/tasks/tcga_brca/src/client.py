"""NVFlare client of the Fed-TCGA-BRCA task (Client API, DIFF updates).

FLamby's FedAvg recipe: client SGD on the Cox partial likelihood, a fixed number of mini-batch steps
per round, and a shuffled loader and optimizer that persist across rounds, so an epoch can span rounds.
Labels are ``(time, event)`` rows; the model returns one risk score per row.
"""

import argparse
from collections.abc import Iterator

import nvflare.client as flare
import torch
from fl_data import load_train
from model import CoxLinear
from nvflare.app_common.abstract.fl_model import FLModel, ParamsType


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--batch_size", type=int, required=True)
    parser.add_argument("--local_steps", type=int, required=True)
    parser.add_argument("--lr", type=float, required=True)
    return parser.parse_args()


def batches(features: torch.Tensor, labels: torch.Tensor, batch_size: int, generator: torch.Generator) -> Iterator:
    """Endless stream of shuffled mini-batches; reshuffles at every epoch boundary."""
    while True:
        order = torch.randperm(len(labels), generator=generator)
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            yield features[index], labels[index]


def cox_loss(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """FLamby's Cox partial likelihood: sort by descending time (stable, no tie handling), then
    loss_i = logsumexp(score[:i+1] - score[i]) * event_i, averaged over the batch."""
    order = torch.argsort(labels[:, 0], descending=True, stable=True)
    scores, events = scores[order], labels[order, 1]
    return ((torch.logcumsumexp(scores, dim=0) - scores) * events).mean()


def concordance(risk: torch.Tensor, labels: torch.Tensor) -> float:
    """Harrell's C-index (ties in risk count one half); 0.5 without a comparable pair."""
    time, event = labels[:, 0], labels[:, 1] > 0.5
    later = (time[None, :] > time[:, None]) | ((time[None, :] == time[:, None]) & ~event[None, :])
    pairs = later & event[:, None]
    diff = risk[:, None] - risk[None, :]
    concordant = (diff > 0).float() + 0.5 * (diff == 0).float()
    count = pairs.sum().item()
    return (concordant * pairs).sum().item() / count if count else 0.5


def as_tensors(params: dict) -> dict:
    return {name: torch.as_tensor(value) for name, value in params.items()}


def compute_model_diff(model: torch.nn.Module, global_state: dict) -> dict:
    """Torch tensors, never numpy: NVFlare's PT path drops non-tensor params silently."""
    return {name: value.detach().cpu() - global_state[name] for name, value in model.state_dict().items()}


def evaluate(model: torch.nn.Module, features: torch.Tensor, labels: torch.Tensor) -> dict:
    """Training-split diagnostics only; the campaign's score comes from the trusted evaluator."""
    with torch.no_grad():
        risk = model(features)
        loss = cox_loss(risk, labels).item()
    return {"train_loss": loss, "train_c_index": concordance(risk, labels)}


def local_train(model, stream, optimizer, steps: int, device: torch.device) -> int:
    model.train()
    for _ in range(steps):
        x, y = next(stream)
        optimizer.zero_grad()
        loss = cox_loss(model(x.to(device)), y.to(device))
        loss.backward()
        optimizer.step()
    return steps


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    flare.init()
    site = flare.get_site_name()
    site_index = int(site.rsplit("-", 1)[-1])
    features, labels = load_train(site)
    generator = torch.Generator().manual_seed(args.seed * 1000 + site_index * 100)
    stream = batches(features, labels, args.batch_size, generator)
    model = CoxLinear(in_features=features.shape[1], seed=args.seed).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    while flare.is_running():
        input_model = flare.receive()
        if input_model is None:
            break
        if flare.is_submit_model():
            flare.send(FLModel(params=model.cpu().state_dict(), params_type=ParamsType.FULL))
            continue
        if flare.is_evaluate():
            eval_model = CoxLinear(in_features=features.shape[1], seed=args.seed)
            eval_model.load_state_dict(as_tensors(input_model.params), strict=True)
            flare.send(FLModel(metrics=evaluate(eval_model, features, labels)))
            continue
        model.load_state_dict(as_tensors(input_model.params), strict=True)
        global_state = {name: value.detach().cpu().clone() for name, value in model.state_dict().items()}
        steps = local_train(model, stream, optimizer, args.local_steps, device)
        metrics = evaluate(model.cpu(), features, labels)
        model.to(device)
        flare.send(
            FLModel(
                params=compute_model_diff(model, global_state),
                params_type=ParamsType.DIFF,
                metrics=metrics,
                meta={"NUM_STEPS_CURRENT_ROUND": steps, "NUM_TRAIN_SAMPLES": len(labels)},
            )
        )


if __name__ == "__main__":
    main()
