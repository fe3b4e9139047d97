// Package onnxpb is the Go code protoc-gen-go generates from ONNX's
// onnx.proto of ONNX v1.12.0 (IR version 8, opset 17), the file beside it,
// copied unchanged from the ONNX repository (Apache-2.0). It is the proto2
// file the ONNX tools are built from: every field that is set is written,
// an attribute of value 0 included. go generate runs gen.sh, which
// regenerates onnx.pb.go with protoc (on PATH) and the protoc-gen-go of
// the google.golang.org/protobuf version in go.mod.
package onnxpb

//go:generate ./gen.sh
