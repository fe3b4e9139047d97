package cuda

// helperSrc is the device code every .cu starts with: scalar helpers with
// the reference interpreter's semantics (NaN handling, saturating casts)
// and the warp and block reductions. It compiles with nvcc as is and with
// clang through the prelude.
const helperSrc = `__device__ __forceinline__ float relu_f(float x) { return x > 0.0f ? x : 0.0f; }
__device__ __forceinline__ float abs_f(float x) { return fabsf(x); }
__device__ __forceinline__ int abs_i(int x) { return x < 0 ? -x : x; }
__device__ __forceinline__ float sign_f(float x) { return x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : 0.0f; }
__device__ __forceinline__ int sign_i(int x) { return x > 0 ? 1 : x < 0 ? -1 : 0; }
// max_f and min_f return a when a is NaN, as the reference does.
__device__ __forceinline__ float max_f(float a, float b) { return a >= b || a != a ? a : b; }
__device__ __forceinline__ float min_f(float a, float b) { return a <= b || a != a ? a : b; }
__device__ __forceinline__ int max_i(int a, int b) { return a > b ? a : b; }
__device__ __forceinline__ int min_i(int a, int b) { return a < b ? a : b; }
// max_nan is the running maximum of a reduction: NaN wins.
__device__ __forceinline__ float max_nan(float acc, float x) { return x > acc || x != x ? x : acc; }
__device__ __forceinline__ int max_nan(int acc, int x) { return x > acc ? x : acc; }
__device__ __forceinline__ bool isinf_f(float x) { return fabsf(x) == __int_as_float(0x7f800000); }
// sigmoid_f is 1/(1+e^-x) without overflow for large |x|.
__device__ __forceinline__ float sigmoid_f(float x) {
	if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
	const float e = expf(x);
	return e / (1.0f + e);
}
// gelu_f is the tanh form of GELU (as GPT-2 uses it); gelu_grad_f is g * gelu'(x).
__device__ __forceinline__ float gelu_f(float x) {
	return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
}
__device__ __forceinline__ float gelu_grad_f(float x, float g) {
	const float t = tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x));
	const float du = 0.7978845608028654f * (1.0f + 3.0f * 0.044715f * x * x);
	return g * (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du);
}
// cast_i32 truncates toward zero, saturates, and maps NaN to 0.
__device__ __forceinline__ int cast_i32(float x) {
	if (x != x) return 0;
	if (x >= 2147483647.0f) return 2147483647;
	if (x <= -2147483648.0f) return -2147483647 - 1;
	return (int)x;
}

// Warp reductions (butterfly: every lane gets the result).
__device__ __forceinline__ float warp_sum(float v) {
	for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}
__device__ __forceinline__ int warp_sum(int v) {
	for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}
__device__ __forceinline__ float warp_max(float v) {
	for (int o = 16; o > 0; o >>= 1) v = max_nan(v, __shfl_xor_sync(0xffffffffu, v, o));
	return v;
}
__device__ __forceinline__ int warp_max(int v) {
	for (int o = 16; o > 0; o >>= 1) v = max_nan(v, __shfl_xor_sync(0xffffffffu, v, o));
	return v;
}
// warp_argmax leaves in every lane the largest value and its lowest index.
__device__ __forceinline__ void warp_argmax(float& best, int& bi) {
	for (int o = 16; o > 0; o >>= 1) {
		const float b = __shfl_xor_sync(0xffffffffu, best, o);
		const int j = __shfl_xor_sync(0xffffffffu, bi, o);
		if (b > best || (b == best && j < bi) || bi == 0x7fffffff) {
			best = b;
			bi = j;
		}
	}
}

// Block reductions over blockDim.x threads (a multiple of 32) with 32
// floats of shared memory; every thread gets the result.
__device__ __forceinline__ float block_sum(float v, float* sh) {
	v = warp_sum(v);
	__syncthreads();
	if ((threadIdx.x & 31) == 0) sh[threadIdx.x / 32] = v;
	__syncthreads();
	v = threadIdx.x < blockDim.x / 32 ? sh[threadIdx.x] : 0.0f;
	return warp_sum(v);
}
__device__ __forceinline__ int block_sum(int v, float* sh) {
	v = warp_sum(v);
	__syncthreads();
	if ((threadIdx.x & 31) == 0) sh[threadIdx.x / 32] = __int_as_float(v);
	__syncthreads();
	v = threadIdx.x < blockDim.x / 32 ? __float_as_int(sh[threadIdx.x]) : 0;
	return warp_sum(v);
}
__device__ __forceinline__ float block_max(float v, float* sh) {
	v = warp_max(v);
	__syncthreads();
	if ((threadIdx.x & 31) == 0) sh[threadIdx.x / 32] = v;
	__syncthreads();
	v = threadIdx.x < blockDim.x / 32 ? sh[threadIdx.x] : __int_as_float(0xff800000);
	return warp_max(v);
}
__device__ __forceinline__ int block_max(int v, float* sh) {
	v = warp_max(v);
	__syncthreads();
	if ((threadIdx.x & 31) == 0) sh[threadIdx.x / 32] = __int_as_float(v);
	__syncthreads();
	v = threadIdx.x < blockDim.x / 32 ? __float_as_int(sh[threadIdx.x]) : -2147483647 - 1;
	return warp_max(v);
}
`

// Prelude is the header clang gets with -include when it compiles a .cu
// without the CUDA toolkit (-nocudainc -nocudalib): the CUDA keywords and
// built-in variables, the warp shuffles, and the float math the kernels
// call, from NVVM builtins and PTX instead of libdevice. exp and log use
// the ex2.approx and lg2.approx instructions (relative error about 2^-22);
// tanh is 1 - 2/(e^2x + 1) on them, more accurate than tanh.approx.f32
// (2^-11), which -DMDLC_FAST_TANH selects.
const Prelude = `// mdlc CUDA prelude for clang without the CUDA toolkit.
#define __global__ __attribute__((global))
#define __device__ __attribute__((device))
#define __shared__ __attribute__((shared))
#define __forceinline__ __inline__ __attribute__((always_inline))
struct __mdlc_uint3 { unsigned x, y, z; };
static __device__ __forceinline__ __mdlc_uint3 __mdlc_tid() {
	return {(unsigned)__nvvm_read_ptx_sreg_tid_x(), (unsigned)__nvvm_read_ptx_sreg_tid_y(), (unsigned)__nvvm_read_ptx_sreg_tid_z()};
}
static __device__ __forceinline__ __mdlc_uint3 __mdlc_ctaid() {
	return {(unsigned)__nvvm_read_ptx_sreg_ctaid_x(), (unsigned)__nvvm_read_ptx_sreg_ctaid_y(), (unsigned)__nvvm_read_ptx_sreg_ctaid_z()};
}
static __device__ __forceinline__ __mdlc_uint3 __mdlc_ntid() {
	return {(unsigned)__nvvm_read_ptx_sreg_ntid_x(), (unsigned)__nvvm_read_ptx_sreg_ntid_y(), (unsigned)__nvvm_read_ptx_sreg_ntid_z()};
}
static __device__ __forceinline__ __mdlc_uint3 __mdlc_nctaid() {
	return {(unsigned)__nvvm_read_ptx_sreg_nctaid_x(), (unsigned)__nvvm_read_ptx_sreg_nctaid_y(), (unsigned)__nvvm_read_ptx_sreg_nctaid_z()};
}
#define threadIdx (__mdlc_tid())
#define blockIdx (__mdlc_ctaid())
#define blockDim (__mdlc_ntid())
#define gridDim (__mdlc_nctaid())

static __device__ __forceinline__ float __int_as_float(int x) { return __nvvm_bitcast_i2f(x); }
static __device__ __forceinline__ int __float_as_int(float x) { return __nvvm_bitcast_f2i(x); }
static __device__ __forceinline__ float __shfl_xor_sync(unsigned m, float v, int l) { return __nvvm_shfl_sync_bfly_f32(m, v, l, 0x1f); }
static __device__ __forceinline__ int __shfl_xor_sync(unsigned m, int v, int l) { return __nvvm_shfl_sync_bfly_i32(m, v, l, 0x1f); }
static __device__ __forceinline__ int atomicCAS(int* p, int cmp, int v) { return __nvvm_atom_cas_gen_i(p, cmp, v); }

static __device__ __forceinline__ float fabsf(float x) { return __nvvm_fabs_f(x); }
static __device__ __forceinline__ float floorf(float x) { return __nvvm_floor_f(x); }
static __device__ __forceinline__ float sqrtf(float x) { return __nvvm_sqrt_rn_f(x); }
static __device__ __forceinline__ float exp2f(float x) { return __nvvm_ex2_approx_f(x); }
static __device__ __forceinline__ float log2f(float x) { return __nvvm_lg2_approx_f(x); }
static __device__ __forceinline__ float expf(float x) { return __nvvm_ex2_approx_f(x * 1.4426950408889634f); }
static __device__ __forceinline__ float logf(float x) { return __nvvm_lg2_approx_f(x) * 0.6931471805599453f; }
static __device__ __forceinline__ float sinf(float x) { return __nvvm_sin_approx_f(x); }
static __device__ __forceinline__ float cosf(float x) { return __nvvm_cos_approx_f(x); }
static __device__ __forceinline__ float tanhf(float x) {
#ifdef MDLC_FAST_TANH
	float y;
	asm("tanh.approx.f32 %0, %1;" : "=f"(y) : "f"(x));
	return y;
#else
	const float e = expf(2.0f * fabsf(x));
	const float t = 1.0f - 2.0f / (e + 1.0f);
	return x < 0.0f ? -t : t;
#endif
}
// powf follows C: a negative base needs an integer exponent.
static __device__ __forceinline__ float powf(float x, float y) {
	if (y == 0.0f || x == 1.0f) return 1.0f;
	if (x != x || y != y) return __int_as_float(0x7fc00000);
	const float ax = fabsf(x);
	if (ax == 0.0f) return y > 0.0f ? 0.0f : __int_as_float(0x7f800000);
	float r = exp2f(y * log2f(ax));
	if (x < 0.0f) {
		if (floorf(y) != y) return __int_as_float(0x7fc00000);
		if (floorf(y * 0.5f) != y * 0.5f) r = -r;
	}
	return r;
}
`

// philoxSrc is runtime/impl's Philox4x32-10 and PhiloxUniform as device
// code, written after helperSrc in the .cu of a model with a random op: the
// GPU draws the CPU's values bit for bit.
const philoxSrc = `
// Philox4x32-10 (Salmon et al. 2011; Random123's philox4x32): the first
// word of the block of counter (i low, i high, step, stream) under key, as
// a float in [0, 1) on the 2^-24 grid (runtime/impl.PhiloxUniform).
__device__ __forceinline__ float philox_uniform(unsigned long long key, unsigned int step, unsigned int stream, unsigned long long i) {
    unsigned int c0 = (unsigned int)i, c1 = (unsigned int)(i >> 32), c2 = step, c3 = stream;
    unsigned int k0 = (unsigned int)key, k1 = (unsigned int)(key >> 32);
    for (int r = 0; r < 10; r++) {
        if (r > 0) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        unsigned long long p0 = (unsigned long long)0xD2511F53u * c0;
        unsigned long long p1 = (unsigned long long)0xCD9E8D57u * c2;
        unsigned int n0 = (unsigned int)(p1 >> 32) ^ c1 ^ k0, n2 = (unsigned int)(p0 >> 32) ^ c3 ^ k1;
        c1 = (unsigned int)p1;
        c3 = (unsigned int)p0;
        c0 = n0;
        c2 = n2;
    }
    return (float)(c0 >> 8) * (1.0f / 16777216.0f);
}

// philox_key is runtime/impl.PhiloxKey: the 64-bit key from four f32 words of 16 bits.
__device__ __forceinline__ unsigned long long philox_key(const float* w) {
    return (unsigned long long)(unsigned short)w[0] | (unsigned long long)(unsigned short)w[1] << 16 |
        (unsigned long long)(unsigned short)w[2] << 32 | (unsigned long long)(unsigned short)w[3] << 48;
}
`
