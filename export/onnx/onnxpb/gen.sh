#!/bin/sh
# Regenerates onnx.pb.go from onnx.proto with protoc (on PATH) and the
# protoc-gen-go of the google.golang.org/protobuf version in go.mod, into
# the directory $1 (default: this one).
set -e
out=$(realpath "${1:-$(dirname "$0")}")
cd "$(dirname "$0")"
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go
protoc --plugin=protoc-gen-go="$bin/protoc-gen-go" --go_out="$out" --go_opt=paths=source_relative \
	--go_opt=Monnx.proto=github.com/mdlc/mdlc/export/onnx/onnxpb onnx.proto
