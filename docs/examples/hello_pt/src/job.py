"""A hello-world FedAvg job on NVFlare's Recipe API, resolved for a campaign.

The campaign runner passes the fixed budget (clients, rounds, batch size), the seed and the knobs
(lr, local_epochs) on the command line; the job hands the client its share in train_args.
"""

import argparse
import os
import shlex

from model import SmallNet
from nvflare.app_opt.pt.recipes.fedavg import FedAvgRecipe
from nvflare.recipe import SimEnv

HERE = os.path.dirname(os.path.abspath(__file__))


def define_parser() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--n_clients", type=int, required=True)
    parser.add_argument("--num_rounds", type=int, required=True)
    parser.add_argument("--batch_size", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--local_epochs", type=int, required=True)
    return parser.parse_args()


def main() -> None:
    args = define_parser()
    client_args = {
        "--batch_size": args.batch_size,
        "--seed": args.seed,
        "--lr": args.lr,
        "--local_epochs": args.local_epochs,
    }
    recipe = FedAvgRecipe(
        name=args.name,
        min_clients=args.n_clients,
        num_rounds=args.num_rounds,
        model=SmallNet(hidden=32, seed=args.seed),
        train_script=os.path.join(HERE, "client.py"),
        train_args=" ".join(f"{flag} {shlex.quote(str(value))}" for flag, value in client_args.items()),
        key_metric="accuracy",
    )
    env = SimEnv(num_clients=args.n_clients)
    recipe.execute(env)


if __name__ == "__main__":
    main()
