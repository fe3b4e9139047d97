package impl

import "testing"

// cacheLevel decodes CPUID leaf 4 / 0x8000001D as the manuals lay it out.
func TestCacheLevel(t *testing.T) {
	// A 48 KiB, 12-way L1d with 64-byte lines and 64 sets, shared by 2
	// threads: type 1, level 1, sharing 2-1 in bits 14-25.
	eax := uint32(1) | 1<<5 | 1<<14
	ebx := uint32(11)<<22 | 0<<12 | 63
	ecx := uint32(63)
	level, size, sharing, data, ok := cacheLevel(eax, ebx, ecx)
	if !ok || !data || level != 1 || size != 48<<10 || sharing != 2 {
		t.Errorf("L1d: level %d size %d sharing %d data %v ok %v", level, size, sharing, data, ok)
	}
	// An instruction cache is not data; type 0 ends the list.
	if _, _, _, data, ok := cacheLevel(2|1<<5, ebx, ecx); !ok || data {
		t.Errorf("L1i: data %v ok %v", data, ok)
	}
	if _, _, _, _, ok := cacheLevel(0, 0, 0); ok {
		t.Error("type 0 is a cache")
	}
	if machineCaches.L1 < 4<<10 || machineCaches.L2 < machineCaches.L1 || machineCaches.L3 < 1 {
		t.Errorf("this machine: %v", machineCaches)
	}
	t.Logf("this machine: %v", machineCaches)
}

// The blocking follows the caches: kc fills L1 with a kc×nr panel of B (at
// most 384), mc takes half of L2 with a mc×kc block of A, nc half of the
// L3 share with a kc×nc block of B.
func TestBlocking(t *testing.T) {
	avx512 := &microKernel{name: "avx512", mr: 12, nr: 32}
	avx2 := &microKernel{name: "avx2", mr: 6, nr: 16}
	for _, c := range []struct {
		kr         *microKernel
		caches     caches
		kc, mc, nc int
	}{
		{avx2, caches{L1: 32 << 10, L2: 512 << 10, L3: 4 << 20}, 384, 168, 1360},   // Zen 3: 32 KiB L1d, 512 KiB L2
		{avx512, caches{L1: 32 << 10, L2: 1 << 20, L3: 2 << 20}, 256, 504, 1024},   // Skylake-SP
		{avx512, caches{L1: 48 << 10, L2: 1 << 20, L3: 16 << 20}, 384, 336, 4096},  // Zen 5
		{avx2, caches{L1: 16 << 10, L2: 128 << 10, L3: 128 << 10}, 256, 60, 64},    // small caches
		{kernelGo, caches{L1: 1 << 20, L2: 1 << 30, L3: 1 << 30}, 384, 1024, 4096}, // the clamps
	} {
		kc, mc, nc := blocking(c.kr, c.caches)
		if kc != c.kc || mc != c.mc || nc != c.nc {
			t.Errorf("%s on %v: kc %d mc %d nc %d, want %d %d %d", c.kr.name, c.caches, kc, mc, nc, c.kc, c.mc, c.nc)
		}
		if mc%c.kr.mr != 0 || nc%c.kr.nr != 0 {
			t.Errorf("%s: mc %d or nc %d not a multiple of the tile", c.kr.name, mc, nc)
		}
	}
}
