"""Client of the hello-world job, resolved for a campaign: its own site through the data bridge, DIFF updates.

Against the original: the data come from fl_data.load_train(site) instead of load_digits, the global
weights load with strict=True, the update is the difference to the global model (torch tensors) with
the number of steps in its meta, evaluation and submission have their own branches, and the seed
and every setting come from the job.
"""

import argparse

import nvflare.client as flare
import torch
from fl_data import load_train
from model import SmallNet
from nvflare.app_common.abstract.fl_model import FLModel, ParamsType


def compute_model_diff(model: torch.nn.Module, global_state: dict) -> dict:
    return {name: value.detach().cpu() - global_state[name] for name, value in model.state_dict().items()}


def accuracy(model: torch.nn.Module, features: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return (model(features).argmax(1) == labels).float().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch_size", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--local_epochs", type=int, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    flare.init()
    site = flare.get_site_name()
    features, labels = load_train(site)
    generator = torch.Generator().manual_seed(args.seed * 1000 + int(site.rsplit("-", 1)[-1]))
    model = SmallNet(hidden=32, seed=args.seed).to(device)
    while flare.is_running():
        input_model = flare.receive()
        if input_model is None:
            break
        if flare.is_submit_model():
            flare.send(FLModel(params=model.cpu().state_dict(), params_type=ParamsType.FULL))
            continue
        params = {name: torch.as_tensor(value) for name, value in input_model.params.items()}
        if flare.is_evaluate():
            evaluated = SmallNet(hidden=32, seed=args.seed)
            evaluated.load_state_dict(params, strict=True)
            flare.send(FLModel(metrics={"accuracy": accuracy(evaluated, features, labels)}))
            continue
        model.load_state_dict(params, strict=True)
        global_state = {name: value.detach().cpu().clone() for name, value in model.state_dict().items()}
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
        steps = 0
        for _ in range(args.local_epochs):
            order = torch.randperm(len(labels), generator=generator)
            for start in range(0, len(order), args.batch_size):
                index = order[start : start + args.batch_size]
                optimizer.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(features[index].to(device)), labels[index].to(device))
                loss.backward()
                optimizer.step()
                steps += 1
        model.cpu()
        metrics = {"train_accuracy": accuracy(model, features, labels)}
        flare.send(
            FLModel(
                params=compute_model_diff(model, global_state),
                params_type=ParamsType.DIFF,
                metrics=metrics,
                meta={"NUM_STEPS_CURRENT_ROUND": steps},
            )
        )
        model.to(device)


if __name__ == "__main__":
    main()
