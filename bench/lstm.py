"""The charlstm model in PyTorch (nn.LSTM): one Adam training step timed.

Same sizes as examples/charlstm/charlstm.mdl: embedding 256x32, two LSTM
layers of 128 units over 64 steps, linear 128->256, batch 32, mean
cross-entropy. Prints tokens/s of the best of REPEATS timings.
"""
import sys
import time

import torch

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
torch.set_num_threads(threads)
torch.manual_seed(1)
N, T, V, E, H = 32, 64, 256, 32, 128


class CharLSTM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(V, E)
        self.lstm = torch.nn.LSTM(E, H, num_layers=2, batch_first=True)
        self.out = torch.nn.Linear(H, V)

    def forward(self, x):
        h, _ = self.lstm(self.emb(x))
        return self.out(h)


m = CharLSTM()
opt = torch.optim.Adam(m.parameters(), lr=3e-3)
x = torch.randint(0, V, (N, T))
y = torch.randint(0, V, (N, T))


def step():
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(m(x).reshape(-1, V), y.reshape(-1))
    loss.backward()
    opt.step()


step()
best = float("inf")
for _ in range(3):
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    best = min(best, (time.perf_counter() - t0) / steps)
print(f"pytorch {threads} {N * T / best:.0f}")
