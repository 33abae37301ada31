"""A Recipe job whose budget is computed when it runs and whose other settings arrive through **kwargs."""

import math
import os

from model import SmallNet
from nvflare.app_opt.pt.recipes.fedavg import FedAvgRecipe
from nvflare.recipe import SimEnv

BASE_ROUNDS = 4


def settings() -> dict:
    return {"key_metric": "val_accuracy", "aggregator": None}


def main() -> None:
    n_clients = int(os.environ.get("N_CLIENTS", "2"))
    rounds = BASE_ROUNDS * 2
    extra = settings()
    recipe = FedAvgRecipe(
        name="computed",
        min_clients=n_clients,
        num_rounds=rounds,
        model=SmallNet(hidden=math.floor(32.5)),
        train_script="trainer.py",
        train_args="--batch_size 8",
        **extra,
    )
    recipe.execute(SimEnv(num_clients=n_clients))


if __name__ == "__main__":
    main()
