// Package mpi is mdlc's data-parallel training over MPI: Open MPI (or
// MPICH) reached at run time through purego, without cgo and without MPI
// headers at build time (CGO_ENABLED=0 builds keep working; a missing
// library is an error of Init, not of the build).
//
// A process started by mpirun calls Init, which initializes MPI from the
// environment mpirun set (rank, size, peers); Comm.Reducer is the
// runtime.AllReducer a generated model takes (WithAllReduce): every rank
// computes the gradients of its own examples, and the reducer makes them
// the mean over every rank's examples, weighted by each rank's example
// count, with one in-place MPI_Allreduce(MPI_SUM) over float32 of the
// whole gradient block per step. Comm.Broadcast copies rank 0's parameters
// and state to every rank (SyncModel).
//
// Every MPI call runs on one goroutine locked to the OS thread that called
// MPI_Init_thread (MPI_THREAD_FUNNELED), so the Go scheduler moving
// goroutines between threads never breaks MPI's threading rules. Errors
// come back as Go errors (MPI_ERRORS_RETURN on MPI_COMM_WORLD) with MPI's
// text. Open MPI's backtrace signal handlers are turned off
// (OMPI_MCA_opal_signal) unless the environment sets them: the Go runtime
// owns SIGSEGV and friends. A rank that dies makes mpirun end the others
// (Open MPI's default: the job aborts when a process exits without
// MPI_Finalize), so a failed rank ends the job with mpirun's error instead
// of a hang.
package mpi
