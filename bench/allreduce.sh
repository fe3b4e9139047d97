#!/usr/bin/env bash
# allreduce.sh: data-parallel training step against its all-reduce, for
# examples/mnist_mlp and the seed CNN (examples/catsdogs), with NP ranks
# (default 2) on this machine under mpirun (Open MPI), then with one
# process as the baseline of the same run. bench/allreduce/main.go says
# what is timed.
#
#   bench/allreduce.sh
#   NP=4 bench/allreduce.sh
#   bench/allreduce.sh -mlp-steps 1000 -cnn-steps 20
set -euo pipefail
cd "$(dirname "$0")/.."
np=${NP:-2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -o "$tmp/allreduce" ./bench/allreduce
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "== $np ranks: mpirun --oversubscribe -np $np (batch: all ranks together)"
mpirun --oversubscribe -np "$np" "$tmp/allreduce" "$@"
echo "== 1 process, no MPI (batch: the per-rank batch)"
"$tmp/allreduce" "$@"
