#!/usr/bin/env bash
# gpt.sh: the tinygpt training step (examples/tinygpt: 4 layers, 4 heads,
# width 128, context 64, vocabulary 256, batch 16) in mdlc's generated Go
# (BenchmarkTinyGPTTrainStep) and in PyTorch (bench/gpt.py: the same model,
# tied embedding, AdamW), each at 1 and 2 threads (GOMAXPROCS for Go,
# torch.set_num_threads for PyTorch), ROUNDS rounds in turn, then the median
# ms/step, tokens/s and GFLOP/s (llm.c's count) of each and mdlc's speed-up
# over PyTorch at the same thread count, and over PyTorch's best.
#
#   bench/gpt.sh
#   ROUNDS=5 STEPS=30 bench/gpt.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
steps=${STEPS:-20}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
text="$(go env GOROOT)/src/testdata/Isaac.Newton-Opticks.txt"

go test -c -o "$tmp/bench.test" ./bench
for ((r = 1; r <= rounds; r++)); do
	for n in 1 2; do
		(cd bench && "$tmp/bench.test" -test.run '^$' -test.bench '^BenchmarkTinyGPTTrainStep$' -test.benchtime "${steps}x" -test.cpu "$n") |
			awk -v n="$n" '/tokens\/s/ { for (f = 1; f < NF; f++) if ($(f+1) == "ns/op") ms = $f / 1e6; print "mdlc", n, ms }' >>"$tmp/results"
		/usr/bin/python3 bench/gpt.py "$text" "$steps" "$n" | awk '{ print "pytorch", $2, $4 }' >>"$tmp/results"
	done
done

echo "tinygpt training step (batch 16 x 64 tokens), $rounds rounds of $steps steps, median"
echo "$(go version), $(/usr/bin/python3 -c 'import torch; print("PyTorch", torch.__version__)'), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo
awk '
	function median(s,   a, k, i, j, t) {
		k = split(s, a, " ")
		for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
	}
	{ v[$1 " " $2] = v[$1 " " $2] " " $3 }
	END {
		params = 832256; tokens = 16 * 64
		flop = tokens * (6 * params + 6 * 4 * 128 * 64)
		best = 1e18
		for (n = 1; n <= 2; n++) { p[n] = median(v["pytorch " n]); if (p[n] < best) best = p[n] }
		printf "| | threads | ms/step | tokens/s | GFLOP/s | vs PyTorch, same threads | vs PyTorch best |\n"
		printf "| --- | --- | --- | --- | --- | --- | --- |\n"
		for (n = 1; n <= 2; n++) {
			m = median(v["mdlc " n])
			printf "| mdlc | %d | %.1f | %.0f | %.2f | %.2fx | %.2fx |\n", n, m, tokens * 1000 / m, flop / m / 1e6, p[n] / m, best / m
		}
		for (n = 1; n <= 2; n++)
			printf "| PyTorch | %d | %.1f | %.0f | %.2f | | |\n", n, p[n], tokens * 1000 / p[n], flop / p[n] / 1e6
	}' "$tmp/results"
