"""NVFlare job of the FEMNIST task (Recipe API).

The campaign runner passes the fixed budget (clients, rounds, batch size, seed) and the scalar
knobs on the command line and exports the job; it never trusts values written here.
"""

import argparse
import os
import shlex

from aggregators import CampaignAggregator
from model import FemnistCNN
from nvflare.apis.dxo import DataKind
from nvflare.app_opt.pt.recipes.fedavg import FedAvgRecipe
from nvflare.recipe import SimEnv

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--n_clients", type=int, required=True)
    parser.add_argument("--num_rounds", type=int, required=True)
    parser.add_argument("--batch_size", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--local_steps", type=int, required=True)
    parser.add_argument("--aggregator", required=True)
    parser.add_argument("--server_lr", type=float, required=True)
    parser.add_argument("--server_momentum", type=float, required=True)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    client_args = {
        "--seed": args.seed,
        "--batch_size": args.batch_size,
        "--local_steps": args.local_steps,
        "--lr": args.lr,
    }
    recipe = FedAvgRecipe(
        name=args.name,
        model=FemnistCNN(num_classes=62, seed=args.seed),
        min_clients=args.n_clients,
        num_rounds=args.num_rounds,
        train_script=os.path.join(HERE, "client.py"),
        train_args=" ".join(f"{flag} {shlex.quote(str(value))}" for flag, value in client_args.items()),
        aggregator=CampaignAggregator(
            method=args.aggregator, server_lr=args.server_lr, server_momentum=args.server_momentum
        ),
        aggregator_data_kind=DataKind.WEIGHT_DIFF,
        key_metric="train_accuracy",
    )
    recipe.execute(SimEnv(num_clients=args.n_clients))


if __name__ == "__main__":
    main()
