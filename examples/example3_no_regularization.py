# ruff: noqa: UP008  (the article's code is kept as written)
# Example 3 of the article "Why does my autoencoder produce identical outputs during
# training?" (insufficient regularisation), unchanged but for the aelog lines. The article
# trains the same model twice, with two optimizers; each phase is watched as its own run
# (a second watch() on the same model closes the first run and starts the next).
# Run it, then: tensorboard --logdir runs   (or: aelog diagnose runs/example3)
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

    def forward(self, x):
        encoded = self.encoder(x)
        decoded = self.decoder(encoded)
        return decoded

model = SimpleAutoencoder(input_size, latent_size)
optimizer = optim.Adam(model.parameters(), lr=0.001)
aelog.watch(model, optimizer, logdir="runs/example3", run_name="plain")
criterion = nn.MSELoss()

for epoch in range(100):
    optimizer.zero_grad()
    outputs = model(data)
    loss = criterion(outputs, data)
    loss.backward()
    optimizer.step()
    if epoch % 20 == 0:
        print(f"Epoch:{epoch} Loss:{loss.item()}")


print("Example output:", outputs[0])# outputs very similar for all inputs

# Adding weight decay to the Adam optimizer or adding a dropout layer can fix this
optimizer_regularized = optim.Adam(model.parameters(), lr=0.001, weight_decay = 1e-5)
aelog.watch(model, optimizer_regularized, logdir="runs/example3", run_name="regularized")
for epoch in range(100):
  optimizer_regularized.zero_grad()
  outputs_regularized = model(data)
  loss_regularized = criterion(outputs_regularized, data)
  loss_regularized.backward()
  optimizer_regularized.step()
  if epoch % 20 == 0:
        print(f"Epoch:{epoch} Loss:{loss_regularized.item()}")

print("Regularized output:", outputs_regularized[0]) # outputs slightly different now
