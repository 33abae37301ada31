"""An NVFlare job built with the FedJob API (a controller and executors), not a recipe."""

from nvflare.app_common.workflows.fedavg import FedAvg
from nvflare.job_config.api import FedJob

if __name__ == "__main__":
    job = FedJob(name="fedjob-style")
    job.to(FedAvg(num_clients=2, num_rounds=3), "server")
    job.simulator_run("/tmp/nvflare/jobs/workdir", n_clients=2)
