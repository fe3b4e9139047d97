#!/usr/bin/python3
"""The seed CNN (cats vs dogs, batch 32) and the Fashion-MNIST CNN (batch 128)
trained in PyTorch on random data, the same models as examples/catsdogs and
examples/fashion_cnn, for bench/cnn.sh. Prints one line per model and thread
count: "torch MODEL THREADS EXAMPLES_PER_SECOND"."""
import sys
import time

import torch
import torch.nn as nn


def catsdogs():
    return nn.Sequential(
        nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(128, 128, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(6272, 512), nn.ReLU(), nn.Linear(512, 1), nn.Sigmoid())


def fashion():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))


def rate(name, threads, seconds):
    torch.manual_seed(1)
    torch.set_num_threads(threads)
    if name == "catsdogs":
        model, n, shape = catsdogs(), 32, (3, 150, 150)
        opt = torch.optim.RMSprop(model.parameters(), lr=1e-4, alpha=0.9, eps=1e-7)
        loss_fn = nn.BCELoss()
        y = torch.randint(0, 2, (n, 1)).float()
    else:
        model, n, shape = fashion(), 128, (1, 28, 28)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = nn.CrossEntropyLoss()
        y = torch.randint(0, 10, (n,))
    x = torch.rand((n,) + shape)
    model.train()

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(2):
        step()
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or steps < 3:
        step()
        steps += 1
    return steps * n / (time.perf_counter() - start)


if __name__ == "__main__":
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10
    for name in ("catsdogs", "fashion_cnn"):
        for threads in (1, 2):
            print("torch %s %d %.1f" % (name, threads, rate(name, threads, seconds)), flush=True)
