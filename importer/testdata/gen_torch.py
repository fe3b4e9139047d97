#!/usr/bin/python3
"""Fixtures of mdlc's importer tests from PyTorch (Debian python3-torch, CPU).

Builds the models of mlp.mdl and cnn.mdl in PyTorch, trains each a few
steps on random data (so that the weights and BatchNorm's running
statistics are not their initial values), and writes, into the directory
given (default: this one):

  torch_NAME.safetensors       the state_dict, in its order and layouts
                               (Linear [out, in], Conv2d OIHW, BatchNorm's
                               running_mean/running_var/num_batches_tracked)
  torch_NAME_pred.safetensors  x: fixed inputs, NHWC as mdlc takes them;
                               probs: the model's softmax outputs in eval mode

torch.save is not safetensors and the safetensors package is not installed:
the writer below follows the format (an 8-byte little-endian header length,
a JSON header, the raw little-endian data).
"""
import json
import struct
import sys

import torch
from torch import nn

DTYPES = {torch.float32: "F32", torch.int64: "I64"}


def save_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        data = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 16)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x):  # x: [N, 784]
        return self.fc2(torch.relu(self.fc1(x)))


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 4, 3)
        self.bn1 = nn.BatchNorm2d(4, eps=1e-5)
        self.conv2 = nn.Conv2d(4, 6, 3)
        self.drop = nn.Dropout(0.25)
        self.fc1 = nn.Linear(24, 16)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x):  # x: [N, 2, 10, 10], NCHW
        x = torch.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 2)
        x = torch.relu(self.conv2(x))
        x = torch.relu(self.fc1(self.drop(torch.flatten(x, 1))))
        return self.fc2(x)


def make(name, new, in_shape, nchw):
    torch.manual_seed(7)
    model = new()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    model.train()
    for _ in range(5):
        x = torch.randn(8, *in_shape) + 0.5
        y = torch.randint(0, 10, (8,))
        loss = nn.functional.cross_entropy(model(x.permute(0, 3, 1, 2) if nchw else x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    x = torch.rand(4, *in_shape) * 2 - 1  # NHWC for mdlc
    with torch.no_grad():
        probs = torch.softmax(model(x.permute(0, 3, 1, 2) if nchw else x), dim=1)
    return model.state_dict(), {"x": x, "probs": probs}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.set_num_threads(1)
    for name, model, shape, nchw in [("mlp", MLP, (784,), False), ("cnn", CNN, (10, 10, 2), True)]:
        weights, pred = make(name, model, shape, nchw)
        save_safetensors(f"{out}/torch_{name}.safetensors", weights)
        save_safetensors(f"{out}/torch_{name}_pred.safetensors", pred)


if __name__ == "__main__":
    main()
