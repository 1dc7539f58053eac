"""Shared test setup: one torch thread (two fight each other on these 2-core machines)."""
import torch

torch.set_num_threads(1)
