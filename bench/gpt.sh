#!/usr/bin/env bash
# gpt.sh: issue 13's GPT benchmark. The training step of tinygpt
# (examples/tinygpt: 4 layers, 4 heads, width 128, context 64, batch 16) and
# of the wide GPT (bench/widegpt: 6 layers, 6 heads, width 384, context 256,
# batch 4), both byte-level with tied embeddings and AdamW, in mdlc's
# generated Go (BenchmarkTinyGPTTrainStep, BenchmarkWideGPTTrainStep) and in
# PyTorch (bench/gpt.py: the same models), each at 1 and 2 threads
# (GOMAXPROCS for Go, torch.set_num_threads for PyTorch), ROUNDS rounds in
# turn. Then, per config, the median ms/step, tokens/s, GFLOP/s by llm.c's
# count (6 x params x tokens + 6 x layers x width x context x tokens) and
# that as a fraction of the FMA peak of as many cores, measured by the Go
# benchmark right after its steps (runtime/impl.FMAPeak), and mdlc's
# speed-up over PyTorch at the same thread count and over PyTorch's best.
#
#   bench/gpt.sh                        # both configs, ROUNDS=3
#   CONFIG=wide ROUNDS=5 STEPS=10 bench/gpt.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
config=${CONFIG:-both}
case "$config" in
tiny | wide) configs=$config ;;
both) configs="tiny wide" ;;
*) echo "CONFIG must be tiny, wide or both" >&2; exit 2 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
text="$(go env GOROOT)/src/testdata/Isaac.Newton-Opticks.txt"

go test -c -o "$tmp/bench.test" ./bench
for ((r = 1; r <= rounds; r++)); do
	for c in $configs; do
		if [[ $c == tiny ]]; then bench=TinyGPTTrainStep steps=${STEPS:-20}; else bench=WideGPTTrainStep steps=${STEPS:-5}; fi
		for n in 1 2; do
			(cd bench && "$tmp/bench.test" -test.run '^$' -test.bench "^Benchmark$bench\$" -test.benchtime "${steps}x" -test.cpu "$n") |
				awk -v c="$c" -v n="$n" '/tokens\/s/ { for (f = 1; f < NF; f++) { if ($(f+1) == "ns/op") ms = $f / 1e6; if ($(f+1) == "peak-GFLOP/s") peak = $f }; print c, "mdlc", n, ms, peak }' >>"$tmp/results"
			/usr/bin/python3 bench/gpt.py "$c" "$text" "$steps" "$n" | awk -v c="$c" '{ print c, "pytorch", $2, $4, $10 }' >>"$tmp/results"
		done
	done
done

echo "GPT training step, $rounds rounds, median; $(go version | cut -d' ' -f3), $(/usr/bin/python3 -c 'import torch; print("PyTorch", torch.__version__)'), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load average $(cut -d' ' -f1-3 /proc/loadavg)"
for c in $configs; do
	echo
	awk -v c="$c" '
		function median(s,   a, k, i, j, t) {
			k = split(s, a, " ")
			for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
			return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
		}
		$1 == c { v[$2 " " $3] = v[$2 " " $3] " " $4; if ($2 == "mdlc") pk[$3] = pk[$3] " " $5; else params = $5 }
		END {
			if (c == "tiny") { B = 16; T = 64; D = 128; L = 4; H = 4 } else { B = 4; T = 256; D = 384; L = 6; H = 6 }
			tokens = B * T
			flop = tokens * (6 * params + 6 * L * D * T)
			printf "%s: %d layers, %d heads, width %d, context %d, batch %d (%d tokens), %d parameters, %.1f GFLOP/step\n\n", c, L, H, D, T, B, tokens, params, flop / 1e9
			best = 1e18
			for (n = 1; n <= 2; n++) { p[n] = median(v["pytorch " n]); if (p[n] < best) best = p[n]; peak[n] = median(pk[n]) }
			printf "| | threads | ms/step | tokens/s | GFLOP/s | of FMA peak | vs PyTorch, same threads | vs PyTorch best |\n"
			printf "| --- | --- | --- | --- | --- | --- | --- | --- |\n"
			for (n = 1; n <= 2; n++) {
				m = median(v["mdlc " n])
				printf "| mdlc | %d | %.1f | %.0f | %.1f | %.0f%% | %.2fx | %.2fx |\n", n, m, tokens * 1000 / m, flop / m / 1e6, 100 * flop / m / 1e6 / peak[n], p[n] / m, best / m
			}
			for (n = 1; n <= 2; n++)
				printf "| PyTorch | %d | %.1f | %.0f | %.1f | %.0f%% | | |\n", n, p[n], tokens * 1000 / p[n], flop / p[n] / 1e6, 100 * flop / p[n] / 1e6 / peak[n]
			printf "\nFMA peak (runtime/impl.FMAPeak, median of the Go runs): %.1f GFLOP/s on 1 core, %.1f on 2\n", peak[1], peak[2]
		}' "$tmp/results"
done
