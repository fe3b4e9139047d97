package cuda

import "unsafe"

// cuBLAS enums.
const (
	opN = 0 // CUBLAS_OP_N
	opT = 1 // CUBLAS_OP_T
)

// EnableBLAS loads cuBLAS and creates the device's handle on its stream.
// Sgemm calls it when needed; call it early to fail early.
func (d *Device) EnableBLAS() error {
	if d.blas != 0 {
		return nil
	}
	if err := loadBLAS(); err != nil {
		return err
	}
	if err := Status("cublasCreate_v2", d.call(blas.cublasCreate, uintptr(unsafe.Pointer(&d.outPtr)))); err != nil {
		return err
	}
	d.blas = uintptr(d.outPtr)
	return Status("cublasSetStream_v2", d.call(blas.cublasSetStream, d.blas, d.stream))
}

func op(t bool) uintptr {
	if t {
		return opT
	}
	return opN
}

// Sgemm queues C = alpha*op(A)*op(B) + beta*C on row-major matrices, as
// impl.Sgemm does on the host: op(A) is m×k, op(B) is k×n, C is m×n,
// and lda, ldb, ldc are the row strides of A, B and C as stored. cuBLAS is
// column-major, so it computes Cᵀ = op(B)ᵀ op(A)ᵀ: the operands swap.
func (d *Device) Sgemm(ta, tb bool, m, n, k int, alpha float32, a Ptr, lda int, b Ptr, ldb int, beta float32, c Ptr, ldc int) error {
	if err := d.EnableBLAS(); err != nil {
		return err
	}
	d.alpha, d.beta = alpha, beta
	return Status("cublasSgemm_v2", d.call(blas.cublasSgemm, d.blas, op(tb), op(ta),
		uintptr(n), uintptr(m), uintptr(k),
		uintptr(unsafe.Pointer(&d.alpha)), uintptr(b), uintptr(ldb), uintptr(a), uintptr(lda),
		uintptr(unsafe.Pointer(&d.beta)), uintptr(c), uintptr(ldc)))
}

// SgemmStridedBatched is Sgemm on batch matrices at strides sa, sb, sc
// (in elements) from a, b and c.
func (d *Device) SgemmStridedBatched(ta, tb bool, m, n, k int, alpha float32, a Ptr, lda, sa int, b Ptr, ldb, sb int, beta float32, c Ptr, ldc, sc, batch int) error {
	if err := d.EnableBLAS(); err != nil {
		return err
	}
	d.alpha, d.beta = alpha, beta
	return Status("cublasSgemmStridedBatched", d.call(blas.cublasSgemmStridedBatched, d.blas, op(tb), op(ta),
		uintptr(n), uintptr(m), uintptr(k),
		uintptr(unsafe.Pointer(&d.alpha)), uintptr(b), uintptr(ldb), uintptr(sb), uintptr(a), uintptr(lda), uintptr(sa),
		uintptr(unsafe.Pointer(&d.beta)), uintptr(c), uintptr(ldc), uintptr(sc), uintptr(batch)))
}
