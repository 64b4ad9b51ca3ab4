# ruff: noqa: UP008  (the article's code is kept as written)
# Example 1 of the article "Why does my autoencoder produce identical outputs during
# training?" (overly large latent space), unchanged but for the two aelog lines.
# Run it, then: tensorboard --logdir runs   (or: aelog diagnose runs/example1)
import torch
import torch.nn as nn
import torch.optim as optim

import aelog

# Sample data
input_size = 100
latent_size = 80 # Latent space nearly as large as input
data = torch.randn(1000, input_size)

class SimpleAutoencoder(nn.Module):
    def __init__(self, input_size, latent_size):
        super(SimpleAutoencoder, self).__init__()
        self.encoder = nn.Linear(input_size, latent_size)
        self.decoder = nn.Linear(latent_size, input_size)

    def forward(self, x):
        encoded = self.encoder(x)
        decoded = self.decoder(encoded)
        return decoded

model = SimpleAutoencoder(input_size, latent_size)
optimizer = optim.Adam(model.parameters(), lr=0.001)
aelog.watch(model, optimizer, logdir="runs/example1")
criterion = nn.MSELoss()

for epoch in range(100):
    optimizer.zero_grad()
    outputs = model(data)
    loss = criterion(outputs, data)
    loss.backward()
    optimizer.step()
    if epoch % 20 == 0:
        print(f"Epoch:{epoch} Loss:{loss.item()}")

print("Example output:", outputs[0]) # outputs very similar for all inputs
