#!/usr/bin/env bash
# gemm.sh: BenchmarkSgemm at 1024³, a CNN's and a transformer's large
# products and the MNIST MLP shapes, each backend in its own process (a
# library's threads keep spinning after its last call and would slow the
# next backend down), ROUNDS rounds in turn, with the FMA peaks measured in
# every process. Prints the CPU, the best GFLOP/s of each shape and backend,
# its share of the matching peak, and the ratios of native to the others.
#
# On a machine with AVX-512 it also runs the AVX2 path (native-avx2: the
# AVX2 kernel forced; with OPENBLAS=1, openblas-haswell: OpenBLAS with its
# AVX2 kernels, OPENBLAS_CORETYPE=Haswell), against the peak of 256-bit
# FMAs, so that the AVX2 path can be compared with OpenBLAS's on any machine.
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
avx512=$(grep -qw avx512f /proc/cpuinfo && echo 1 || true)
backends=(native gonum)
bins=(default default)
cores=("" "")
if [[ -n "$avx512" ]]; then
	backends+=(native-avx2)
	bins+=(default)
	cores+=("")
fi
if [[ -n "${OPENBLAS:-}" ]]; then
	CGO_LDFLAGS=-lopenblas go test -tags openblas -c -o "$tmp/openblas.test" ./runtime/impl
	backends+=(openblas)
	bins+=(openblas)
	cores+=("")
	if [[ -n "$avx512" ]]; then
		backends+=(openblas-haswell)
		bins+=(openblas)
		cores+=(Haswell)
	fi
fi
for ((r = 1; r <= rounds; r++)); do
	for i in "${!backends[@]}"; do
		be=${backends[$i]}
		sub=${be%-haswell} # openblas-haswell runs the openblas sub-benchmark
		# OpenBLAS picks its own kernel unless told (no OPENBLAS_L2_SIZE).
		(cd runtime/impl && env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ${cores[$i]:+OPENBLAS_CORETYPE=${cores[$i]}} \
			"$tmp/${bins[$i]}.test" -test.run '^$' -test.bench "SgemmPeak|Sgemm\$/.*/${sub}\$" -test.benchtime "$benchtime") |
			awk -v be="$be" '/GFLOP\/s/ { name = $1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name); sub(/\/[^\/]*$/, "/" be, name); print name, $(NF-1) }' >>"$tmp/results"
	done
done

echo "BenchmarkSgemm, best of $rounds rounds of $benchtime per backend process"
cpuinfo() { grep -m1 "^$1" /proc/cpuinfo | cut -d: -f2 | xargs; }
isa=$(grep -qw avx512f /proc/cpuinfo && echo AVX-512F || { grep -qw avx2 /proc/cpuinfo && echo AVX2 || echo "no AVX2"; })
caches=$(lscpu 2>/dev/null | awk -F: '/^L1d cache|^L2 cache|^L3 cache/ { sub(/ cache/, "", $1); gsub(/^ +/, "", $2); printf "%s%s %s", sep, $1, $2; sep = ", " }')
echo "$(go version) $(nproc) CPUs, $(cpuinfo 'model name') (family $(cpuinfo 'cpu family') model $(cpuinfo 'model[[:space:]]*:'), $isa${caches:+; $caches})"
echo
awk -v backends="${backends[*]}" '
	$2 + 0 > best[$1] + 0 { best[$1] = $2 }
	$1 ~ /^Sgemm\// { shape = $1; sub(/^Sgemm\//, "", shape); sub(/\/[^\/]*$/, "", shape); if (!(shape in seen)) { seen[shape] = 1; order[n++] = shape } }
	END {
		nb = split(backends, be, " ")
		peak = best["SgemmPeak"]; peak2 = best["SgemmPeakAVX2"]
		printf "FMA peak (best of the runs): %.1f GFLOP/s widest, %.1f with 256-bit FMAs\n\n", peak, peak2
		printf "| shape |"
		for (b = 1; b <= nb; b++) printf " %s | %% peak |", be[b]
		for (b = 1; b <= nb; b++) if (be[b] != "native" && be[b] != "native-avx2" && be[b] != "openblas-haswell") printf " native/%s |", be[b]
		if (best["Sgemm/1024^3/openblas-haswell"] > 0) printf " native-avx2/openblas-haswell |"
		printf "\n|---|"
		for (b = 1; b <= nb; b++) printf "---|---|"
		for (b = 1; b <= nb; b++) if (be[b] != "native" && be[b] != "native-avx2" && be[b] != "openblas-haswell") printf "---|"
		if (best["Sgemm/1024^3/openblas-haswell"] > 0) printf "---|"
		printf "\n"
		for (i = 0; i < n; i++) {
			s = order[i]
			printf "| %s |", s
			for (b = 1; b <= nb; b++) {
				p = (be[b] ~ /avx2|haswell/) ? peak2 : peak
				printf " %.1f | %.0f%% |", best["Sgemm/" s "/" be[b]], 100 * best["Sgemm/" s "/" be[b]] / p
			}
			for (b = 1; b <= nb; b++) if (be[b] != "native" && be[b] != "native-avx2" && be[b] != "openblas-haswell") printf " %.2fx |", best["Sgemm/" s "/native"] / best["Sgemm/" s "/" be[b]]
			if (best["Sgemm/1024^3/openblas-haswell"] > 0) printf " %.2fx |", best["Sgemm/" s "/native-avx2"] / best["Sgemm/" s "/openblas-haswell"]
			printf "\n"
		}
	}' "$tmp/results"
