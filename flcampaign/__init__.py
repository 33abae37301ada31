"""flcampaign: reproducible, trustworthy federated-learning research campaigns on NVIDIA FLARE."""

__version__ = "0.1.0"
