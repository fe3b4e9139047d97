#!/usr/bin/env bash
# lstm.sh: the training step of examples/charlstm (2-layer LSTM, 128 units,
# 64 steps, batch 32) in mdlc (BenchmarkCharLSTMStep) and in PyTorch 1.13
# (lstm.py, nn.LSTM) with the same number of threads (GOMAXPROCS and
# torch.set_num_threads), in one run; prints tokens/s and the ratio.
#
#   bench/lstm.sh                 # 1 and 2 threads
#   THREADS="2" BENCHTIME=5x bench/lstm.sh
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${THREADS:-1 2}
benchtime=${BENCHTIME:-20x}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/bench.test" ./bench

echo "charlstm training step, $(go version), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "| threads | mdlc tokens/s | PyTorch tokens/s | mdlc / PyTorch |"
echo "| --- | --- | --- | --- |"
for th in $threads; do
	mdlc=$(cd bench && GOMAXPROCS=$th "$tmp/bench.test" -test.run '^$' -test.bench '^BenchmarkCharLSTMStep$' -test.benchtime "$benchtime" |
		awk '/tokens\/s/ { for (f = 1; f < NF; f++) if ($(f+1) == "tokens/s") print $f }')
	torch=$(/usr/bin/python3 bench/lstm.py "$th" | awk '{ print $3 }')
	awk -v th="$th" -v a="$mdlc" -v b="$torch" 'BEGIN { printf "| %s | %.0f | %.0f | %.2fx |\n", th, a, b, a / b }'
done
