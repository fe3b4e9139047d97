package impl

import (
	goruntime "runtime"
	"sync"
	"time"
)

// FMAPeak measures this machine's fp32 peak in GFLOP/s as the GEMM's
// kernels see it: the peak loop BenchmarkSgemmPeak runs (the widest FMA the
// CPU has, 12 independent chains) on every core of GOMAXPROCS at once,
// repeated for at least d. Benchmarks call it after their timed loop to
// report their achieved GFLOP/s as a fraction of the same run's peak.
func FMAPeak(d time.Duration) float64 {
	procs := goruntime.GOMAXPROCS(0)
	const iters = 1 << 20
	flops := make([]int, procs)
	var total float64
	start := time.Now()
	for time.Since(start) < d {
		var wg sync.WaitGroup
		for i := range procs {
			wg.Go(func() { flops[i] = fmaPeak(iters) })
		}
		wg.Wait()
		for _, f := range flops {
			total += float64(f) * iters
		}
	}
	return total / time.Since(start).Seconds() / 1e9
}
