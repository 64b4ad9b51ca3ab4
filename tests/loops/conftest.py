"""Loop tests run torch on one thread: the machine's cores are shared and tiny models gain
nothing from more threads."""

import torch

torch.set_num_threads(1)
