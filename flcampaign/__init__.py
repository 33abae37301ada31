"""flcampaign: reproducible, trustworthy federated-learning research campaigns on NVIDIA FLARE."""

__version__ = "0.2.0"
