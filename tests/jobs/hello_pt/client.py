"""Client of the hello-world job: trains on its share of scikit-learn's digits and sends the weights back."""

import argparse

import nvflare.client as flare
import torch
from model import SmallNet
from nvflare.app_common.abstract.fl_model import FLModel
from sklearn.datasets import load_digits


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--local_epochs", type=int, default=2)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()

    flare.init()
    site = int(flare.get_site_name().split("-")[-1])
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x[site::3] / 16.0, dtype=torch.float32)
    y = torch.tensor(y[site::3])
    model = SmallNet()
    while flare.is_running():
        input_model = flare.receive()
        model.load_state_dict(input_model.params)
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
        for _ in range(args.local_epochs):
            for start in range(0, len(x), args.batch_size):
                optimizer.zero_grad()
                loss = torch.nn.functional.cross_entropy(
                    model(x[start : start + args.batch_size]), y[start : start + args.batch_size]
                )
                loss.backward()
                optimizer.step()
        accuracy = (model(x).argmax(1) == y).float().mean().item()
        flare.send(FLModel(params=model.state_dict(), metrics={"accuracy": accuracy}))


if __name__ == "__main__":
    main()
