"""A hello-world FedAvg job on NVFlare's Recipe API: clients train a small network with the Client API."""

import argparse
import os

from model import SmallNet
from nvflare.app_opt.pt.recipes.fedavg import FedAvgRecipe
from nvflare.recipe import SimEnv

HERE = os.path.dirname(os.path.abspath(__file__))


def define_parser() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n_clients", type=int, default=3)
    parser.add_argument("--num_rounds", type=int, default=5)
    parser.add_argument("--batch_size", type=int, default=16)
    return parser.parse_args()


def main() -> None:
    args = define_parser()
    recipe = FedAvgRecipe(
        name="hello-pt",
        min_clients=args.n_clients,
        num_rounds=args.num_rounds,
        model=SmallNet(hidden=32),
        train_script=os.path.join(HERE, "client.py"),
        train_args=f"--batch_size {args.batch_size}",
        key_metric="accuracy",
    )
    env = SimEnv(num_clients=args.n_clients)
    run = recipe.execute(env)
    print("result:", run.get_result())


if __name__ == "__main__":
    main()
