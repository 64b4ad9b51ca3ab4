"""SDK tests run torch on one thread: the test machine's cores are shared, and tiny models
gain nothing from more threads while oversubscription slows them by orders of magnitude."""

import torch

torch.set_num_threads(1)
