#!/usr/bin/python3
"""ONNX files of the benchmark's models for ONNX Runtime (bench/inference.sh).

The architectures of examples/mnist_mlp and examples/fashion_cnn built in
PyTorch (Debian python3-torch) and exported with torch.onnx.export, opset
17, batch axis symbolic, in eval mode (dropout removed). The weights are
PyTorch's initial ones: inference time does not depend on them. The CNN
takes NCHW input, ONNX Runtime's native layout (mdlc's is NHWC).

usage: onnx_models.py OUTDIR   (writes mnist_mlp.onnx and fashion_cnn.onnx)
"""
import sys

import torch
from torch import nn


class MnistMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(784, 256)
        self.logits = nn.Linear(256, 10)

    def forward(self, image):
        return torch.softmax(self.logits(torch.relu(self.hidden(image))), dim=1)


class FashionCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 32, 3)
        self.c2 = nn.Conv2d(32, 64, 3)
        self.drop = nn.Dropout(0.5)
        self.hidden = nn.Linear(5 * 5 * 64, 128)
        self.logits = nn.Linear(128, 10)

    def forward(self, image):
        x = torch.max_pool2d(torch.relu(self.c1(image)), 2)
        x = torch.max_pool2d(torch.relu(self.c2(x)), 2)
        x = torch.relu(self.hidden(self.drop(torch.flatten(x, 1))))
        return torch.softmax(self.logits(x), dim=1)


def main():
    out = sys.argv[1]
    torch.manual_seed(1)
    for name, model, shape in [("mnist_mlp", MnistMLP(), (1, 784)), ("fashion_cnn", FashionCNN(), (1, 1, 28, 28))]:
        model.eval()
        torch.onnx.export(model, torch.zeros(shape), f"{out}/{name}.onnx", opset_version=17,
                          input_names=["image"], output_names=["probs"],
                          dynamic_axes={"image": {0: "N"}, "probs": {0: "N"}})


if __name__ == "__main__":
    main()
