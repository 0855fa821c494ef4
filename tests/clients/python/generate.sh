#!/usr/bin/env bash
# Generates the Python stubs of the shuangyong contract (proto/shuangyong/v1)
# with grpcio-tools: messages (*_pb2.py, with .pyi type hints) and gRPC
# clients (*_pb2_grpc.py). Put OUT_DIR on PYTHONPATH, then
#   from shuangyong.v1 import intake_pb2, intake_pb2_grpc
#
#   tests/clients/python/generate.sh [OUT_DIR]
#
# OUT_DIR defaults to .cache/python-client/gen in the repository (gitignored);
# it is emptied first. PYTHON (default python3) must have grpcio-tools
# installed (requirements.txt); SY_PROTO_DIR overrides the proto root.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
PROTO_DIR="${SY_PROTO_DIR:-$ROOT/proto}"
OUT_DIR="${1:-$ROOT/.cache/python-client/gen}"
PYTHON="${PYTHON:-python3}"

rm -rf "$OUT_DIR"
mkdir -p "$OUT_DIR"
# `python -m grpc_tools.protoc` adds grpcio-tools' own include directory, so
# google/protobuf/timestamp.proto resolves without a system protoc.
"$PYTHON" -m grpc_tools.protoc \
  -I "$PROTO_DIR" \
  --python_out="$OUT_DIR" \
  --pyi_out="$OUT_DIR" \
  --grpc_python_out="$OUT_DIR" \
  "$PROTO_DIR"/shuangyong/v1/*.proto
printf 'generated python stubs of %s in %s\n' "$PROTO_DIR" "$OUT_DIR"
