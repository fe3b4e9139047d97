#!/usr/bin/env bash
# trainstep.sh: BenchmarkMNISTTrainStep with every sub-benchmark in its own
# process, ROUNDS rounds in turn, then the median, min and max examples/s of
# each and its ratio to hand/native and to mdlc/native of the same run.
#
# Each sub-benchmark gets its own process because the BLAS libraries keep
# threads spinning for a while after a call (mdlc's pool for 2 ms, OpenBLAS
# its own), which would slow the next sub-benchmark in the same process.
#
#   bench/trainstep.sh              # default build: native and gonum
#   OPENBLAS=1 bench/trainstep.sh   # also -tags openblas (cgo, libopenblas-dev)
#   ROUNDS=5 BENCHTIME=3s bench/trainstep.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
benchtime=${BENCHTIME:-2s}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go test -c -o "$tmp/default.test" ./bench
subs=(mdlc/native mdlc-O0/native hand/native mdlc/gonum hand/gonum)
bins=(default default default default default)
if [[ -n "${OPENBLAS:-}" ]]; then
	CGO_LDFLAGS=-lopenblas go test -tags openblas -c -o "$tmp/openblas.test" ./bench
	subs+=(mdlc/openblas hand/openblas)
	bins+=(openblas openblas)
fi

for ((r = 1; r <= rounds; r++)); do
	for i in "${!subs[@]}"; do
		sub=${subs[$i]}
		pat="MNISTTrainStep/^${sub%%/*}\$/^${sub#*/}\$"
		# OpenBLAS picks its kernel by itself (no OPENBLAS_CORETYPE / L2 override).
		(cd bench && env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$tmp/${bins[$i]}.test" \
			-test.run '^$' -test.bench "$pat" -test.benchtime "$benchtime") |
			awk -v name="$sub" '/examples\/s/ { for (f = 1; f < NF; f++) if ($(f+1) == "examples/s") print name, $f }' >>"$tmp/results"
	done
done

echo "BenchmarkMNISTTrainStep, $rounds rounds of $benchtime, one process per sub-benchmark"
echo "$(go version) $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo
awk '
	{ v[$1] = v[$1] " " $2; if (!($1 in seen)) { seen[$1] = 1; order[n++] = $1 } }
	function median(s,   a, k, i, j, t) {
		k = split(s, a, " ")
		for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		lo = a[1]; hi = a[k]
		return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
	}
	END {
		for (i = 0; i < n; i++) { med[order[i]] = median(v[order[i]]); mn[order[i]] = lo; mx[order[i]] = hi }
		printf "| sub-benchmark | ms/step | examples/s (median, min-max) | vs hand/native | vs mdlc/native |\n"
		printf "| --- | --- | --- | --- | --- |\n"
		for (i = 0; i < n; i++) {
			s = order[i]
			printf "| `%s` | %.3f | %d (%d-%d) | %.2fx | %.2fx |\n", s, 128 * 1000 / med[s], med[s], mn[s], mx[s], med[s] / med["hand/native"], med[s] / med["mdlc/native"]
		}
	}' "$tmp/results"
