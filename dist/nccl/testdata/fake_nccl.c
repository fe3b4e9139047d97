// A fake libnccl.so.2 for dist/nccl's tests: NCCL's entry points with the
// real signatures, which record their arguments in `fake` and compute a
// one-rank PreMulSum all-reduce on host memory (the tests pass host
// addresses where NCCL takes device ones). Built by the test with clang.
#include <stddef.h>
#include <string.h>

typedef struct { char internal[128]; } ncclUniqueId;

struct {
	int nranks, rank, id_ok;
	float scalar;
	int dtype, residence, op_dtype, op;
	size_t count;
	void *stream;
	void *comm;
	int groups, destroyed_ops, destroyed_comms, allreduces;
} fake;

int ncclGetVersion(int *v) { *v = 22304; return 0; }

int ncclGetUniqueId(ncclUniqueId *id) {
	for (int i = 0; i < 128; i++) id->internal[i] = (char)(i * 7 + 3);
	return 0;
}

// The id comes by value (128 bytes on the stack), then rank.
int ncclCommInitRank(void **comm, int nranks, ncclUniqueId id, int rank) {
	fake.id_ok = 1;
	for (int i = 0; i < 128; i++)
		if (id.internal[i] != (char)(i * 7 + 3)) fake.id_ok = 0;
	fake.nranks = nranks;
	fake.rank = rank;
	*comm = (void *)0xc0ffee;
	return 0;
}

int ncclRedOpCreatePreMulSum(int *op, void *scalar, int dtype, int residence, void *comm) {
	fake.scalar = *(float *)scalar;
	fake.op_dtype = dtype;
	fake.residence = residence;
	fake.comm = comm;
	*op = 5;
	return 0;
}

int ncclRedOpDestroy(int op, void *comm) { fake.destroyed_ops += op == 5 && comm == (void *)0xc0ffee; return 0; }
int ncclGroupStart(void) { fake.groups++; return 0; }
int ncclGroupEnd(void) { return 0; }

int ncclAllReduce(const void *send, void *recv, size_t count, int dtype, int op, void *comm, void *stream) {
	if (count == 13) return 3; // ncclInternalError, for the error path
	fake.allreduces++;
	fake.count = count;
	fake.dtype = dtype;
	fake.op = op;
	fake.stream = stream;
	const float *s = send;
	float *r = recv;
	for (size_t i = 0; i < count; i++) r[i] = s[i] * fake.scalar; // one rank
	return 0;
}

int ncclCommDestroy(void *comm) { fake.destroyed_comms += comm == (void *)0xc0ffee; return 0; }

const char *ncclGetErrorString(int rc) { return rc == 3 ? "internal error (fake)" : "unknown"; }
