#!/usr/bin/env python3
"""Example client of shuangyong for other agencies' systems (Python, grpcio).

Walks through what an agency's system does against a secured deployment:
gRPC over TLS, trusting the deployment's CA (--ca), every call with
`authorization: Bearer <token>` read from the agency's token file
(--token-file; a token is never taken from the command line). The token
names the caller (agency and user): no `x-sy-agency`/`x-sy-user` headers
are sent, and one naming anybody else would be refused.

1. submits a support request over Intake, as the unit whose token it holds,
   with an idempotency key;
2. retries the very same call, as after a timeout: the reply is the stored
   result with `replayed=True`, and nothing new is written;
3. reads the request back over Query with `min_position` = the position the
   command returned, so the read includes its own write (the unit may read
   the requests it raised: role reader-own);
4. reads the clearance board (销号清零) at that position;
5. sends an invalid command and reads the field violations of the
   INVALID_ARGUMENT from the status details (google.rpc.BadRequest);
6. calls without a token (UNAUTHENTICATED) and with an `x-sy-agency` header
   naming another agency (PERMISSION_DENIED);
7. with --reader-token-file (an auditor's token, e.g. the district audit
   office's): the projection's status, which the unit may not read
   (PERMISSION_DENIED) and the auditor may; no event quarantined, so every
   event carried a valid signature.

Each step is checked; the last line counts the checks and the exit status is
0 only when all passed (tests/clients/python/run.sh relies on it).

    python client.py --intake 127.0.0.1:50051 --query 127.0.0.1:50052 \\
        --ca deploy/secrets/ca.pem --token-file deploy/secrets/clients/unit-31001/token

The stubs come from generate.sh; --stubs (or SY_PY_STUBS) names their directory.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
import uuid
from pathlib import Path

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_STUBS = ROOT / ".cache" / "python-client" / "gen"

# Every call has a deadline; intake answers only after JetStream's ack.
TIMEOUT_SECONDS = 10.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--intake",
        default=os.environ.get("SY_INTAKE_URL", "127.0.0.1:50051"),
        help="intake address host:port (env SY_INTAKE_URL; https:// is dropped)",
    )
    parser.add_argument(
        "--query",
        default=os.environ.get("SY_QUERY_URL", "127.0.0.1:50052"),
        help="projection (Query) address host:port (env SY_QUERY_URL)",
    )
    parser.add_argument(
        "--ca",
        default=os.environ.get("SY_CA"),
        required="SY_CA" not in os.environ,
        help="CA certificate (PEM) the servers' certificates chain to (env SY_CA; sy setup's ca.pem)",
    )
    parser.add_argument(
        "--token-file",
        default=os.environ.get("SY_TOKEN_FILE"),
        required="SY_TOKEN_FILE" not in os.environ,
        help="file (owner-only) holding the submitting agency's bearer token "
        "(env SY_TOKEN_FILE; sy setup's clients/<agency>/token)",
    )
    parser.add_argument(
        "--reader-token-file",
        default=os.environ.get("SY_READER_TOKEN_FILE"),
        help="file holding the token of an agency with the auditor role (e.g. "
        "clients/district-audit-office/token) for step 7; skipped without it",
    )
    parser.add_argument(
        "--idempotency-key",
        default=None,
        help="key of the submission (default: a new one per run); reuse it to see a replay",
    )
    parser.add_argument(
        "--stubs",
        default=os.environ.get("SY_PY_STUBS", str(DEFAULT_STUBS)),
        help="directory of the generated stubs (generate.sh)",
    )
    return parser.parse_args()


def target(url: str) -> str:
    """grpcio wants host:port; accept the https://host:port form `sy` uses."""
    for scheme in ("http://", "https://"):
        if url.startswith(scheme):
            return url[len(scheme):].rstrip("/")
    return url


def read_token(path: str) -> str:
    """The bearer token in `path`: one line. Like `sy`, refuses a file others may read."""
    mode = os.stat(path).st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        sys.exit(f"{path}: a token file must be readable by its owner only (chmod 600)")
    token = Path(path).read_text(encoding="utf-8").strip()
    if not token or any(c.isspace() for c in token):
        sys.exit(f"{path}: expected one line holding a token")
    return token


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    """The call metadata that authenticates as the token's holder."""
    return (("authorization", f"Bearer {token}"),)


class Checks:
    """Counts what held and what did not; prints each check as it goes."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, ok: bool, what: str) -> None:
        if ok:
            self.passed += 1
            print(f"  ok    {what}")
        else:
            self.failed += 1
            print(f"  FAIL  {what}")


def field_violations(err: grpc.RpcError) -> list[tuple[str, str]]:
    """The (field, description) pairs of a google.rpc.BadRequest in the status details."""
    status = rpc_status.from_call(err)  # None when the server sent no details
    if status is None:
        return []
    violations = []
    for detail in status.details:  # google.protobuf.Any
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            violations.extend((v.field, v.description) for v in bad_request.field_violations)
    return violations


def refused(call, request, metadata, code: grpc.StatusCode, what: str, checks: Checks) -> None:
    """Makes a call that must fail with `code`; prints and checks what came back."""
    try:
        call(request, metadata=metadata, timeout=TIMEOUT_SECONDS)
        print("  answered")
        checks.check(False, what)
    except grpc.RpcError as err:
        print(f"  {err.code().name}: {err.details()}")
        checks.check(err.code() == code, what)


def main() -> int:
    args = parse_args()
    sys.path.insert(0, args.stubs)
    # Generated by generate.sh from proto/shuangyong/v1.
    from shuangyong.v1 import events_pb2, intake_pb2, intake_pb2_grpc, query_pb2, query_pb2_grpc

    checks = Checks()
    # TLS: the servers' certificates (SAN localhost and 127.0.0.1) must chain
    # to the deployment's CA. The caller is whoever the token names; that
    # agency and user are written into every event its commands cause.
    credentials = grpc.ssl_channel_credentials(root_certificates=Path(args.ca).read_bytes())
    caller = bearer(read_token(args.token_file))
    key = args.idempotency_key or f"py-example-{uuid.uuid4()}"

    with grpc.secure_channel(target(args.intake), credentials) as intake_channel, grpc.secure_channel(
        target(args.query), credentials
    ) as query_channel:
        intake = intake_pb2_grpc.IntakeStub(intake_channel)
        query = query_pb2_grpc.QueryStub(query_channel)

        # 1. Submit: a military unit's need addressed to the locality. The
        #    requesting party is the caller's agency: `agency` may be left
        #    empty (naming another agency is INVALID_ARGUMENT).
        command = intake_pb2.SubmitRequestCommand(
            context=intake_pb2.CommandContext(idempotency_key=key, correlation_id="py-example"),
            direction=events_pb2.DIRECTION_MILITARY_TO_LOCAL,
            requester=events_pb2.RequestingParty(name="某部队卫生队"),
            category=events_pb2.CATEGORY_MEDICAL,
            title="Health checks for service members' families",
            description="Annual health checks at the community clinic for 40 family members.",
            area_code="500106001002",
            priority=events_pb2.PRIORITY_NORMAL,
        )
        print(f"SubmitRequest (idempotency key {key})")
        first = intake.SubmitRequest(command, metadata=caller, timeout=TIMEOUT_SECONDS)
        print(
            f"  request {first.aggregate_id} version={first.version} "
            f"position={first.position} replayed={first.replayed}"
        )
        checks.check(first.position > 0 and bool(first.aggregate_id), "the command was appended")

        # 2. The same call again (say, after a timeout): same result, nothing written.
        print("SubmitRequest again, same idempotency key")
        again = intake.SubmitRequest(command, metadata=caller, timeout=TIMEOUT_SECONDS)
        print(
            f"  request {again.aggregate_id} version={again.version} "
            f"position={again.position} replayed={again.replayed}"
        )
        checks.check(again.replayed, "the retry is replayed=True")
        checks.check(
            (again.aggregate_id, again.version, again.position)
            == (first.aggregate_id, first.version, first.position),
            "the retry names the same request, version and position",
        )

        # 3. Read your own write: min_position makes the projection wait
        #    (bounded) until it has applied the command's event.
        print(f"GetRequest min_position={first.position}")
        reply = query.GetRequest(
            query_pb2.GetRequestRequest(id=first.aggregate_id, min_position=first.position),
            metadata=caller,
            timeout=TIMEOUT_SECONDS,
        )
        request = reply.request
        status_name = events_pb2.RequestStatus.Name(request.status)
        print(f"  {request.id} {status_name} {request.title!r} area={request.area_code} position={reply.position}")
        print(f"  requester {request.requester.agency} ({request.requester.name})")
        for entry in request.timeline:
            print(f"    v{entry.version} @{entry.position} {entry.event_type} by {entry.actor.agency}/{entry.actor.user}")
        checks.check(
            request.id == first.aggregate_id and reply.position >= first.position,
            "the projection answers at or after the command's position",
        )
        submitter = request.timeline[0].actor if request.timeline else None
        checks.check(
            submitter is not None
            and bool(submitter.agency)
            and submitter.agency == request.requester.agency,
            "the token named the actor, and its agency is the requesting party",
        )

        # 4. The clearance board at that position.
        print(f"GetClearanceBoard min_position={first.position}")
        board = query.GetClearanceBoard(
            query_pb2.GetClearanceBoardRequest(min_position=first.position),
            metadata=caller,
            timeout=TIMEOUT_SECONDS,
        )
        total = board.total
        print(
            f"  as of {board.as_of}: submitted={total.submitted} open={total.open} "
            f"overdue={total.overdue} awaiting_confirmation={total.awaiting_confirmation} "
            f"closed={total.closed} position={board.position}"
        )
        for row in board.by_direction:
            print(f"    {row.key}: open={row.counts.open} closed={row.counts.closed}")
        checks.check(total.submitted >= 1 and board.position >= first.position, "the board counts the request")

        # 5. An invalid command: INVALID_ARGUMENT, one field violation per bad field.
        invalid = intake_pb2.SubmitRequestCommand()
        invalid.CopyFrom(command)
        invalid.context.idempotency_key = f"{key}-invalid"
        invalid.title = ""
        invalid.area_code = "500199001002"  # a district this deployment does not serve
        print("SubmitRequest with an empty title and a foreign area code")
        try:
            intake.SubmitRequest(invalid, metadata=caller, timeout=TIMEOUT_SECONDS)
            checks.check(False, "the invalid command is refused")
        except grpc.RpcError as err:
            print(f"  {err.code().name}: {err.details()}")
            violations = field_violations(err)
            for field, description in violations:
                print(f"    {field}: {description}")
            checks.check(err.code() == grpc.StatusCode.INVALID_ARGUMENT, "the code is INVALID_ARGUMENT")
            fields = {field for field, _ in violations}
            checks.check({"title", "area_code"} <= fields, "the BadRequest names title and area_code")

        # 6. Credentials are not optional, and a header cannot change the caller.
        unsigned = intake_pb2.SubmitRequestCommand()
        unsigned.CopyFrom(command)
        unsigned.context.idempotency_key = f"{key}-no-token"
        print("SubmitRequest without a token")
        refused(
            intake.SubmitRequest, unsigned, (), grpc.StatusCode.UNAUTHENTICATED,
            "a command without a token is UNAUTHENTICATED", checks,
        )
        print("GetRequest without a token")
        refused(
            query.GetRequest, query_pb2.GetRequestRequest(id=first.aggregate_id), (),
            grpc.StatusCode.UNAUTHENTICATED, "a read without a token is UNAUTHENTICATED", checks,
        )
        impersonating = intake_pb2.SubmitRequestCommand()
        impersonating.CopyFrom(command)
        impersonating.context.idempotency_key = f"{key}-impersonating"
        print("SubmitRequest with the token and x-sy-agency naming another agency")
        refused(
            intake.SubmitRequest, impersonating, caller + (("x-sy-agency", "district-veterans-bureau"),),
            grpc.StatusCode.PERMISSION_DENIED, "a header naming someone else is PERMISSION_DENIED", checks,
        )

        # 7. A read that needs a wider role than the unit's: the projection's
        #    status (auditors and admins).
        if args.reader_token_file:
            status_request = query_pb2.GetProjectionStatusRequest(min_position=first.position)
            print("GetProjectionStatus with the unit's token")
            refused(
                query.GetProjectionStatus, status_request, caller, grpc.StatusCode.PERMISSION_DENIED,
                "the unit may not read the projection's status", checks,
            )
            print("GetProjectionStatus with the auditor's token")
            status = query.GetProjectionStatus(
                status_request, metadata=bearer(read_token(args.reader_token_file)), timeout=TIMEOUT_SECONDS
            )
            print(
                f"  position={status.position} log_last_position={status.log_last_position} "
                f"quarantined={status.quarantined} log_digest={status.log_digest[:16]}..."
            )
            checks.check(status.position >= first.position, "the auditor reads the status at the command's position")
            checks.check(status.quarantined == 0, "no event quarantined: every event's signature verified")

    print(f"python client checks: {checks.passed} passed, {checks.failed} failed")
    return 0 if checks.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
