#!/usr/bin/env bash
# gemm.sh: BenchmarkSgemm at 1024³ and the MNIST MLP shapes, each backend in
# its own process (a library's threads keep spinning after its last call and
# would slow the next backend down), ROUNDS rounds in turn, with the FMA peak
# measured in every process. Prints the best GFLOP/s of each shape and
# backend, its share of the best peak, and the ratios to native.
#
#   bench/gemm.sh                  # native and gonum
#   OPENBLAS=1 bench/gemm.sh       # also OpenBLAS (-tags openblas: cgo, libopenblas-dev)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
benchtime=${BENCHTIME:-1s}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go test -c -o "$tmp/default.test" ./runtime/impl
backends=(native gonum)
bins=(default default)
if [[ -n "${OPENBLAS:-}" ]]; then
	CGO_LDFLAGS=-lopenblas go test -tags openblas -c -o "$tmp/openblas.test" ./runtime/impl
	backends+=(openblas)
	bins+=(openblas)
fi
for ((r = 1; r <= rounds; r++)); do
	for i in "${!backends[@]}"; do
		(cd runtime/impl && env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$tmp/${bins[$i]}.test" -test.run '^$' \
			-test.bench "SgemmPeak|Sgemm\$/.*/${backends[$i]}\$" -test.benchtime "$benchtime") |
			awk '/GFLOP\/s/ { name = $1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name); print name, $(NF-1) }' >>"$tmp/results"
	done
done

echo "BenchmarkSgemm, best of $rounds rounds of $benchtime per backend process"
echo "$(go version) $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo
awk -v backends="${backends[*]}" '
	$2 + 0 > best[$1] + 0 { best[$1] = $2 }
	$1 ~ /^Sgemm\// { shape = $1; sub(/^Sgemm\//, "", shape); sub(/\/[^\/]*$/, "", shape); if (!(shape in seen)) { seen[shape] = 1; order[n++] = shape } }
	END {
		nb = split(backends, be, " ")
		peak = best["SgemmPeak"]
		printf "FMA peak (best of the runs): %.1f GFLOP/s\n\n", peak
		printf "| shape |"
		for (b = 1; b <= nb; b++) printf " %s | %% peak |", be[b]
		for (b = 2; b <= nb; b++) printf " native/%s |", be[b]
		printf "\n|---|"
		for (b = 1; b <= 2 * nb + nb - 1; b++) printf "---|"
		printf "\n"
		for (i = 0; i < n; i++) {
			s = order[i]
			printf "| %s |", s
			for (b = 1; b <= nb; b++) printf " %.1f | %.0f%% |", best["Sgemm/" s "/" be[b]], 100 * best["Sgemm/" s "/" be[b]] / peak
			for (b = 2; b <= nb; b++) printf " %.2fx |", best["Sgemm/" s "/native"] / best["Sgemm/" s "/" be[b]]
			printf "\n"
		}
	}' "$tmp/results"
