"""The GPT training steps of bench/gpt.sh in PyTorch.

The same models as examples/tinygpt/tinygpt.mdl (CONFIG tiny) and
bench/widegpt/widegpt.mdl (CONFIG wide): a byte-level GPT of pre-LN blocks
(causal self-attention, no attention biases; GELU MLP 4x wide with biases),
vocabulary 256, the token embedding tied to the output projection; AdamW
(lr 1e-3, weight decay 0.01) on every parameter; batches of windows of the
Opticks text.

    tiny: 4 layers, 4 heads, width 128, context 64, batch 16
    wide: 6 layers, 6 heads, width 384, context 256, batch 4

Prints "threads N ms/step M tokens/s K GFLOP/s G params P" for each thread
count given.

    python3 bench/gpt.py CONFIG OPTICKS_PATH STEPS THREADS...
"""
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {"tiny": (64, 128, 4, 4, 16), "wide": (256, 384, 6, 6, 4)}
V = 256
T, D, L, H, B = CONFIGS["tiny"]


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.wqkv = nn.Linear(D, 3 * D, bias=False)
        self.wo = nn.Linear(D, D, bias=False)
        self.fc, self.proj = nn.Linear(D, 4 * D), nn.Linear(4 * D, D)
        self.register_buffer("mask", torch.ones(T, T, dtype=torch.bool).tril())

    def forward(self, x):
        n = x.shape[0]
        q, k, v = self.wqkv(self.ln1(x)).split(D, dim=2)
        heads = lambda t: t.view(n, T, H, D // H).transpose(1, 2)
        q, k, v = heads(q), heads(k), heads(v)
        s = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(D // H))
        p = F.softmax(s.masked_fill(~self.mask, float("-inf")), dim=-1)
        o = (p @ v).transpose(1, 2).reshape(n, T, D)
        x = x + self.wo(o)
        return x + self.proj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Parameter(torch.randn(V, D) * 0.02)
        self.wpe = nn.Parameter(torch.randn(T, D) * 0.01)
        self.blocks = nn.ModuleList(Block() for _ in range(L))
        self.ln = nn.LayerNorm(D)

    def forward(self, x, y):
        h = self.wte[x] + self.wpe
        for b in self.blocks:
            h = b(h)
        logits = self.ln(h) @ self.wte.t()
        return F.cross_entropy(logits.view(-1, V), y.view(-1))


def main():
    global T, D, L, H, B
    T, D, L, H, B = CONFIGS[sys.argv[1]]
    path, steps, threads = sys.argv[2], int(sys.argv[3]), [int(a) for a in sys.argv[4:]]
    text = torch.tensor(list(open(path, "rb").read()), dtype=torch.long)
    per = B * T
    batches = [(text[o:o + per].view(B, T), text[o + 1:o + per + 1].view(B, T)) for o in range(0, 32 * per, per)]
    torch.manual_seed(1)
    model = GPT()
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)

    def step(i):
        x, y = batches[i % len(batches)]
        opt.zero_grad(set_to_none=True)
        loss = model(x, y)
        loss.backward()
        opt.step()
        return loss

    for n in threads:
        torch.set_num_threads(n)
        for i in range(3):
            step(i)
        start = time.perf_counter()
        for i in range(steps):
            step(i)
        dt = (time.perf_counter() - start) / steps
        tokens = B * T / dt
        gflops = tokens * (6 * params + 6 * L * D * T) / 1e9
        print(f"threads {n} ms/step {dt * 1e3:.1f} tokens/s {tokens:.0f} GFLOP/s {gflops:.2f} params {params}")


if __name__ == "__main__":
    main()
