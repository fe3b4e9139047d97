package impl

import "fmt"

// caches are the data cache sizes the GEMM's blocking is derived from, in
// bytes: L1 and L2 of one core, L3 shared by the cores sharing it (L3 is
// the share of one of them).
type caches struct {
	L1, L2, L3 int
	source     string // where the sizes came from
}

func (c caches) String() string {
	return fmt.Sprintf("L1d %d KiB, L2 %d KiB, L3 %d KiB per core (%s)", c.L1>>10, c.L2>>10, c.L3>>10, c.source)
}

// defaultCaches are used where the sizes cannot be read: a common x86
// server core (32 KiB L1d, 1 MiB L2, 2 MiB of L3).
var defaultCaches = caches{L1: 32 << 10, L2: 1 << 20, L3: 2 << 20, source: "default"}

// machineCaches are this machine's caches, read once at start-up.
var machineCaches = readCaches()

// cacheLevel decodes one subleaf of CPUID leaf 4 (Intel) or 0x8000001D
// (AMD), which share their layout: the level and size of a data or unified
// cache and how many logical processors share it, or ok false past the
// last cache.
func cacheLevel(eax, ebx, ecx uint32) (level, size, sharing int, data, ok bool) {
	kind := eax & 0x1f // 0 none, 1 data, 2 instruction, 3 unified
	if kind == 0 {
		return 0, 0, 0, false, false
	}
	level = int(eax>>5) & 7
	sharing = int(eax>>14)&0xfff + 1
	ways := int(ebx>>22) + 1
	partitions := int(ebx>>12)&0x3ff + 1
	line := int(ebx)&0xfff + 1
	sets := int(ecx) + 1
	return level, ways * partitions * line * sets, sharing, kind != 2, true
}

// blocking derives a kernel's blocking from the caches, in the spirit of
// the analytical model of Low et al. ("Analytical Modeling Is Enough for
// High-Performance BLIS", 2016): the kc×nr micro-panel of B the kernel
// reuses for every micro-panel of A fills L1 (the rows of A stream past it;
// the panel is read one row of nr floats per k step, which L2 keeps up
// with), the mc×kc block of A it is reused with takes half of L2, and the
// kc×nc block of B half of this core's share of L3. kc is a multiple of 16
// in [128, 384]: a longer kc amortizes writing the tile of C over more k
// steps, and a product whose k fits one block never writes it twice (the
// convolution and transformer shapes of bench/gemm.sh have k = 288 and
// 384); beyond 384 the micro-panels outgrow L1 and stream from L2, which
// measured no better (kc = 1024 on this Zen 5: 1024³ +8% in one hour and
// level in the next, the N = 10 MNIST products 4-5% slower; GEMM.md). mc
// is a multiple of mr in [mr, 1024], nc of nr in [nr, 4096].
func blocking(kr *microKernel, c caches) (kc, mc, nc int) {
	kc = clampMul(c.L1/(4*kr.nr), 16, 128, 384)
	mc = clampMul(c.L2/2/(4*kc), kr.mr, kr.mr, 1024)
	nc = clampMul(c.L3/2/(4*kc), kr.nr, kr.nr, 4096)
	return kc, mc, nc
}

// clampMul rounds x down to a multiple of m and clamps it to [lo, hi].
func clampMul(x, m, lo, hi int) int {
	x = x / m * m
	return max(lo, min(hi, x))
}
