#!/usr/bin/env bash
# compiletime.sh: how the build time grows with the model. Runs
# BenchmarkBuildRepeat (RepeatModel(K), K = 500 .. 8000, and the GPT-2 small
# sized model) and BenchmarkBuildStatements (100,000 statements) with every
# sub-benchmark in its own process, once per round, and prints the median
# build time, its two parts (parse, lower and passes; the Go backend), the
# ratio to K=500 and to the previous K (2.0 per doubling is linear), and the
# process's peak resident memory.
#
#   bench/compiletime.sh                       # every sub-benchmark, 1 round
#   ROUNDS=3 bench/compiletime.sh
#   SUBS="K=500 K=1000 K=2000" bench/compiletime.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-1}
subs=(${SUBS:-K=500 K=1000 K=2000 K=4000 K=8000 gpt2small n=100000})
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go test -c -o "$tmp/bench.test" ./bench
timer=()
if [[ -x /usr/bin/time ]]; then
	timer=(/usr/bin/time -f "rss %M" -o "$tmp/rss")
fi
for ((r = 1; r <= rounds; r++)); do
	for sub in "${subs[@]}"; do
		bench="BuildRepeat/^${sub}\$"
		[[ $sub == n=* ]] && bench="BuildStatements/^${sub}\$"
		rm -f "$tmp/rss"
		(cd bench && "${timer[@]}" "$tmp/bench.test" -test.run '^$' -test.bench "$bench" -test.benchtime 1x) >"$tmp/out"
		rss=$(awk '/^rss/ { print $2 }' "$tmp/rss" 2>/dev/null || true)
		awk -v name="$sub" -v rss="${rss:-0}" '/^Benchmark/ {
			for (f = 1; f < NF; f++) {
				if ($(f+1) == "ns/op") t = $f / 1e9
				if ($(f+1) == "passes-s/op") p = $f
				if ($(f+1) == "codegen-s/op") c = $f
			}
			print name, t, p, c, rss / 1024
		}' "$tmp/out" >>"$tmp/results"
	done
done

echo "BenchmarkBuildRepeat and BenchmarkBuildStatements, $rounds round(s), one process per sub-benchmark"
echo "$(go version) $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo
awk '
	{ t[$1] = t[$1] " " $2; p[$1] = p[$1] " " $3; c[$1] = c[$1] " " $4; m[$1] = ($5 > m[$1] ? $5 : m[$1])
	  if (!($1 in seen)) { seen[$1] = 1; order[n++] = $1 } }
	function median(s,   a, k, i, j, x) {
		k = split(s, a, " ")
		for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { x = a[i]; a[i] = a[j]; a[j] = x }
		return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
	}
	END {
		printf "| model | build s | passes s | codegen s | vs K=500 | vs previous K | peak RSS MiB |\n"
		printf "| --- | --- | --- | --- | --- | --- | --- |\n"
		base = ("K=500" in seen) ? median(t["K=500"]) : 0
		prev = 0
		for (i = 0; i < n; i++) {
			s = order[i]; x = median(t[s])
			r0 = (s ~ /^K=/ && base > 0) ? sprintf("%.2fx", x / base) : "-"
			r1 = (s ~ /^K=/ && prev > 0) ? sprintf("%.2fx", x / prev) : "-"
			printf "| `%s` | %.3f | %.3f | %.3f | %s | %s | %.0f |\n", s, x, median(p[s]), median(c[s]), r0, r1, m[s]
			if (s ~ /^K=/) prev = x
		}
	}' "$tmp/results"
