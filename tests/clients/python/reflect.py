#!/usr/bin/env python3
"""Lists a shuangyong server's services through gRPC server reflection.

What `grpcurl -cacert ca.pem -H 'authorization: Bearer ...' host:port list`
does, in Python's grpcio-reflection, which (like older grpcurl builds) speaks
only `grpc.reflection.v1alpha`: the servers answer both v1alpha and v1. Then
it resolves one service's methods from the descriptors the server sends, as
grpcurl's `describe` does. Exits non-zero unless --expect is listed.

    python reflect.py --target 127.0.0.1:50051 --ca deploy/secrets/ca.pem \\
        --token-file deploy/secrets/clients/district-audit-office/token \\
        --expect shuangyong.v1.Intake
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import grpc
from google.protobuf import descriptor_pool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

TIMEOUT_SECONDS = 10.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--target", required=True, help="host:port of intake or projection")
    parser.add_argument("--ca", required=True, help="the deployment's CA (PEM)")
    parser.add_argument("--token-file", required=True, help="a bearer token's file")
    parser.add_argument("--expect", required=True, help="a service that must be listed")
    args = parser.parse_args()

    token = Path(args.token_file).read_text(encoding="utf-8").strip()
    credentials = grpc.composite_channel_credentials(
        grpc.ssl_channel_credentials(Path(args.ca).read_bytes()),
        grpc.access_token_call_credentials(token),
    )
    with grpc.secure_channel(args.target, credentials) as channel:
        grpc.channel_ready_future(channel).result(timeout=TIMEOUT_SECONDS)
        database = ProtoReflectionDescriptorDatabase(channel)
        services = sorted(database.get_services())
        print(f"{args.target} (grpc.reflection.v1alpha): {', '.join(services)}")
        if args.expect not in services:
            print(f"error: {args.expect} is not listed", file=sys.stderr)
            return 1
        pool = descriptor_pool.DescriptorPool(database)
        service = pool.FindServiceByName(args.expect)
        methods = [method.name for method in service.methods]
        print(f"{args.expect}: {', '.join(methods)}")
        if not methods:
            print(f"error: {args.expect} has no methods", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
