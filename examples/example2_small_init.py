# ruff: noqa: UP008  (the article's code is kept as written)
# Example 2 of the article "Why does my autoencoder produce identical outputs during
# training?" (improper initialisation), unchanged but for the two aelog lines.
# Run it, then: tensorboard --logdir runs   (or: aelog diagnose runs/example2)
import torch
import torch.nn as nn
import torch.optim as optim

import aelog

input_size = 100
latent_size = 20
data = torch.randn(1000, input_size)


class SimpleAutoencoder(nn.Module):
    def __init__(self, input_size, latent_size):
        super(SimpleAutoencoder, self).__init__()
        self.encoder = nn.Linear(input_size, latent_size)
        self.decoder = nn.Linear(latent_size, input_size)

        #Poor Initialization, setting weight values very small
        with torch.no_grad():
           self.encoder.weight.data.fill_(0.001)
           self.decoder.weight.data.fill_(0.001)


    def forward(self, x):
        encoded = self.encoder(x)
        decoded = self.decoder(encoded)
        return decoded


model = SimpleAutoencoder(input_size, latent_size)
optimizer = optim.Adam(model.parameters(), lr=0.001)
aelog.watch(model, optimizer, logdir="runs/example2")
criterion = nn.MSELoss()


for epoch in range(100):
    optimizer.zero_grad()
    outputs = model(data)
    loss = criterion(outputs, data)
    loss.backward()
    optimizer.step()
    if epoch % 20 == 0:
        print(f"Epoch:{epoch} Loss:{loss.item()}")

print("Example Output:", outputs[0]) # outputs very similar for all inputs
