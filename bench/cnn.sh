#!/usr/bin/env bash
# cnn.sh: issue 12's CNN benchmark in one run. The training steps of the
# seed CNN (examples/catsdogs, batch 32) and the Fashion-MNIST CNN
# (examples/fashion_cnn, batch 128) against PyTorch 1.13 on CPU (Debian
# python3-torch; the best of 1 and 2 threads) training the same models;
# every convolution's forward, input-gradient and filter-gradient GFLOP/s
# against the same run's 1024^3 GEMM; the steps' achieved GFLOP/s against
# the same run's FMA peak; the seed CNN's step against the hand-written
# im2col + GEMM one (bench/handcnn.go, BenchmarkCatsDogsHandStep).
#
#   bench/cnn.sh                  # BENCHTIME=3s SECONDS_TORCH=10 by default
#   NOTORCH=1 bench/cnn.sh        # without PyTorch
#   ROUNDS=3 bench/cnn.sh         # on a shared machine: the Go benchmarks and
#                                 # PyTorch alternated 3 times, the best of each
set -euo pipefail
cd "$(dirname "$0")/.."
benchtime=${BENCHTIME:-3s}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go test -c -o "$tmp/bench.test" ./bench
go test -c -o "$tmp/impl.test" ./runtime/impl
: >"$tmp/go.txt"
: >"$tmp/peak.txt"
: >"$tmp/torch.txt"
for ((round = 1; round <= ${ROUNDS:-1}; round++)); do
	(cd bench && "$tmp/bench.test" -test.run '^$' -test.bench 'CatsDogsStep|CatsDogsHandStep|FashionCNNStep|ConvLayers|Gemm1024' -test.benchtime "$benchtime") | tee -a "$tmp/go.txt"
	(cd runtime/impl && "$tmp/impl.test" -test.run '^$' -test.bench 'SgemmPeak$' -test.benchtime 50x -test.count 3) | tee -a "$tmp/peak.txt"
	if [[ -z "${NOTORCH:-}" ]]; then
		/usr/bin/python3 bench/cnn_torch.py "${SECONDS_TORCH:-10}" | tee -a "$tmp/torch.txt"
	fi
done

# Training FLOPs per example (mdlc build -stats: per step / batch).
gflop_catsdogs=$(go run ./cmd/mdlc build -stats -batch 32 -o "$tmp/cd" examples/catsdogs/catsdogs.mdl | awk '/^flops:/ { v = $2; if ($3 == "GFLOP") v *= 1; else if ($3 == "MFLOP") v /= 1000; print v / 32 }')
gflop_fashion=$(go run ./cmd/mdlc build -stats -batch 128 -o "$tmp/fc" examples/fashion_cnn/fashion_cnn.mdl | awk '/^flops:/ { v = $2; if ($3 == "GFLOP") v *= 1; else if ($3 == "MFLOP") v /= 1000; print v / 128 }')

echo
awk -v cd="$gflop_catsdogs" -v fc="$gflop_fashion" '
	FILENAME ~ /go.txt/ && /GFLOP\/s/ { for (f = 1; f < NF; f++) if ($(f+1) == "GFLOP/s" && $f > g[$1]) g[$1] = $f; if ($1 ~ /ConvLayers/ && !seen[$1]++) keys[++n] = $1 }
	FILENAME ~ /go.txt/ && /images\/s|examples\/s/ { for (f = 1; f < NF; f++) if ($(f+1) ~ /(images|examples)\/s/ && $f > r[$1]) r[$1] = $f }
	FILENAME ~ /peak.txt/ && /GFLOP\/s/ { for (f = 1; f < NF; f++) if ($(f+1) == "GFLOP/s" && $f > peak) peak = $f }
	FILENAME ~ /torch.txt/ { if ($4 > t[$2]) { t[$2] = $4; tt[$2] = $3 } }
	END {
		for (k in g) if (k ~ /Gemm1024/) gemm = g[k]
		printf "1024^3 GEMM %.1f GFLOP/s, FMA peak %.1f GFLOP/s (this run)\n\n", gemm, peak
		printf "%-40s %10s %10s\n", "convolution", "GFLOP/s", "of GEMM"
		for (i = 1; i <= n; i++) { k = keys[i]; name = k; sub(/^BenchmarkConvLayers\//, "", name); sub(/-[0-9]+$/, "", name)
			printf "%-40s %10.1f %9.0f%%\n", name, g[k], 100 * g[k] / gemm }
		printf "\n%-12s %12s %12s %10s %10s %14s\n", "model", "mdlc ex/s", "GFLOP/s", "of peak", "PyTorch", "mdlc/PyTorch"
		for (k in r) {
			if (k ~ /CatsDogsHandStep/) { hand = r[k]; continue }
			if (k ~ /CatsDogs/) { m = "catsdogs"; fl = cd; mdlc = r[k] } else if (k ~ /FashionCNN/) { m = "fashion_cnn"; fl = fc } else continue
			pt = t[m]
			printf "%-12s %12.1f %12.1f %9.0f%% %10s %14s\n", m, r[k], r[k] * fl, 100 * r[k] * fl / peak,
				(pt == "" ? "-" : sprintf("%.1f (%dT)", pt, tt[m])), (pt == "" ? "-" : sprintf("%.2fx", r[k] / pt))
		}
		if (hand != "") printf "%-24s %11.1f ex/s, mdlc/hand %.2fx\n", "hand-written (catsdogs)", hand, mdlc / hand
	}' "$tmp/go.txt" "$tmp/peak.txt" "$tmp/torch.txt"
