#!/usr/bin/env bash
# inference.sh: inference latency (batch 1) and throughput (batch 128) of the
# MNIST MLP and the Fashion-MNIST CNN, mdlc's inference build
# (BenchmarkInference: bench/mnistinfer, bench/fashioninfer) against ONNX
# Runtime (npm onnxruntime-node, CPU) running the same models exported by
# `mdlc export -format onnx` (opset 17; the CNN's NHWC transposes are
# cancelled by ONNX Runtime's optimizer), with the same number of threads,
# ROUNDS rounds in turn; prints the medians and the ratios.
#
#   bench/inference.sh                    # 1 thread, 3 rounds of 2s
#   THREADS=2 ROUNDS=5 BENCHTIME=3 bench/inference.sh
#
# Needs node with bench/ort's packages (cd bench/ort && npm ci --ignore-scripts).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${THREADS:-1}
rounds=${ROUNDS:-3}
secs=${BENCHTIME:-2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for m in mnist_mlp fashion_cnn; do
	go run ./cmd/mdlc export -format onnx -o "$tmp/$m.onnx" "examples/$m/$m.mdl"
done
go test -c -o "$tmp/bench.test" ./bench
for ((r = 1; r <= rounds; r++)); do
	(cd bench && GOMAXPROCS=$threads "$tmp/bench.test" -test.run '^$' -test.bench '^BenchmarkInference$' \
		-test.benchtime "${secs}s" -test.cpu "$threads") |
		awk '/^BenchmarkInference/ { split($1, p, "/"); sub(/-[0-9]+$/, "", p[3]); sub(/batch/, "", p[3]); print p[2], p[3], "mdlc", $3 }' >>"$tmp/results"
	for m in mnist_mlp:784 fashion_cnn:28,28,1; do
		node bench/ort/bench.js "$tmp/${m%%:*}.onnx" "$threads" "$secs" "${m#*:}" 1 128 |
			awk -v model="${m%%:*}" '{ print model, $2, "ort", $4 }' >>"$tmp/results"
	done
done

echo "inference: mdlc -inference vs ONNX Runtime $(node -p "require('./bench/ort/node_modules/onnxruntime-node/package.json').version") (CPU EP), $threads thread(s), median of $rounds rounds of ${secs}s"
echo "$(go version), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo
awk '
	{ k = $1 " " $2; v[k, $3] = v[k, $3] " " $4; if (!(k in seen)) { seen[k] = 1; order[n++] = k } }
	function median(s,   a, c, i, j, t) {
		c = split(s, a, " ")
		for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		return (c % 2) ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
	}
	END {
		printf "| model | batch | mdlc ms/batch | ORT ms/batch | mdlc examples/s | ORT examples/s | mdlc speed / ORT |\n"
		printf "| --- | --- | --- | --- | --- | --- | --- |\n"
		for (i = 0; i < n; i++) {
			split(order[i], p, " ")
			a = median(v[order[i], "mdlc"]); b = median(v[order[i], "ort"])
			printf "| %s | %d | %.4g | %.4g | %.0f | %.0f | %.2fx |\n", p[1], p[2], a / 1e6, b / 1e6, p[2] * 1e9 / a, p[2] * 1e9 / b, b / a
		}
	}' "$tmp/results"
