#!/usr/bin/env python3
"""Reads a customer's timeline from propbridged, then follows it live.

Generates the gRPC stubs from the propbridge.v1 .proto files into a temporary folder at
start, reads every page of the customer's timeline, and then watches the customer for new
events, resuming where it left off when the daemon ends a watch that fell behind. Speaks
TLS when given the daemon's CA (and a client certificate when the daemon asks for one), and
sends a bearer token when given a file that holds it.
"""

import argparse
import datetime
import importlib
import os
import shutil
import subprocess
import sys
import tempfile

import grpc

PROTO_FILES = ["propbridge/v1/timeline.proto"]
RESUME_KEY = "propbridge-resume-after-id"
DEFAULT_PROTO_DIRS = [
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto"),
    "/usr/share/propbridge/proto",
]


def generate_stubs(proto_dir, out_dir):
    """Writes timeline_pb2.py and timeline_pb2_grpc.py under out_dir/propbridge/v1/."""
    if shutil.which("protoc") and shutil.which("grpc_python_plugin"):
        command = [
            "protoc",
            "--plugin=protoc-gen-grpc_python=" + shutil.which("grpc_python_plugin"),
            "--grpc_python_out=" + out_dir,
        ]
    else:
        command = [sys.executable, "-m", "grpc_tools.protoc", "--grpc_python_out=" + out_dir]
    command += ["-I", proto_dir, "--python_out=" + out_dir] + PROTO_FILES
    subprocess.run(command, check=True)
    sys.path.insert(0, out_dir)
    return (
        importlib.import_module("propbridge.v1.timeline_pb2"),
        importlib.import_module("propbridge.v1.timeline_pb2_grpc"),
    )


def local_time(timestamp):
    return datetime.datetime.fromtimestamp(timestamp.seconds).strftime("%Y-%m-%d %H:%M")


def describe(pb, event):
    step = pb.Step.Name(event.step).removeprefix("STEP_")
    who = pb.Initiative.Name(event.initiative).removeprefix("INITIATIVE_").lower()
    return f"#{event.id:<6} {local_time(event.occurred_at)}  {step:<10}  {who:<9}  {event.summary}"


def read_file(path):
    with open(path, "rb") as file:
        return file.read()


def open_channel(args):
    """A TLS channel when given a CA or a client certificate, else a plaintext one."""
    if not (args.tls_ca or args.tls_cert):
        return grpc.insecure_channel(args.address)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=read_file(args.tls_ca) if args.tls_ca else None,
        private_key=read_file(args.tls_key) if args.tls_key else None,
        certificate_chain=read_file(args.tls_cert) if args.tls_cert else None,
    )
    return grpc.secure_channel(args.address, credentials)


def call_metadata(token_file):
    """The bearer token as call metadata: it works on plaintext loopback too, where gRPC's
    call credentials are never sent."""
    if not token_file:
        return ()
    token = read_file(token_file).decode("ascii").strip()
    return (("authorization", "Bearer " + token),)


def read_timeline(pb, timelines, customer, page_size, metadata):
    """Every event of the customer, newest first, one page after the other."""
    events = []
    request = pb.GetTimelineRequest(customer=customer, page_size=page_size)
    while True:
        response = timelines.GetTimeline(request, timeout=10, metadata=metadata)
        events.extend(response.events)
        if not response.next_page_token:
            return events
        request.page_token = response.next_page_token


def watch(pb, timelines, customer, after_id, count, metadata):
    """Prints the customer's next `count` events stored after event `after_id`."""
    received = 0
    while received < count:
        call = timelines.WatchTimeline(pb.WatchTimelineRequest(customer=customer, after_id=after_id),
                                  metadata=metadata)
        try:
            for response in call:
                print(describe(pb, response.event), flush=True)
                after_id = response.event.id
                received += 1
                if received == count:
                    call.cancel()
                    break
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                raise
            trailers = dict(error.trailing_metadata() or ())
            if RESUME_KEY not in trailers:
                raise  # refused, e.g. too many watches open: not a watch that fell behind
            # The last event this stream delivered: resuming after it repeats and loses nothing.
            after_id = int(trailers[RESUME_KEY])
            print(f"fell behind; resuming after event {after_id}", file=sys.stderr, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("customer", help="the customer's key, e.g. account:A-1001")
    parser.add_argument(
        "--address",
        default=os.environ.get("PROPBRIDGE_ADDRESS", "127.0.0.1:50051"),
        help="the daemon, HOST:PORT (default: $PROPBRIDGE_ADDRESS or 127.0.0.1:50051)",
    )
    parser.add_argument("--watch", type=int, default=0, metavar="N",
                        help="then follow the customer until N new events have arrived")
    parser.add_argument("--page-size", type=int, default=100, help="events per page")
    parser.add_argument("--proto-dir", help="the folder holding propbridge/v1/*.proto")
    parser.add_argument("--tls-ca", help="speak TLS, verifying the daemon with this CA (PEM)")
    parser.add_argument("--tls-cert", help="speak TLS with this client certificate (PEM)")
    parser.add_argument("--tls-key", help="the client certificate's key (PEM)")
    parser.add_argument(
        "--token-file",
        default=os.environ.get("PROPBRIDGE_TOKEN_FILE"),
        help="send the bearer token this file holds (default: $PROPBRIDGE_TOKEN_FILE)",
    )
    args = parser.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")

    proto_dir = args.proto_dir or next(
        (d for d in DEFAULT_PROTO_DIRS if os.path.exists(os.path.join(d, PROTO_FILES[0]))), None)
    if proto_dir is None:
        parser.error("cannot find propbridge/v1/timeline.proto; pass --proto-dir")

    with tempfile.TemporaryDirectory() as stubs_dir:
        pb, pb_grpc = generate_stubs(proto_dir, stubs_dir)
        metadata = call_metadata(args.token_file)
        with open_channel(args) as channel:
            timelines = pb_grpc.TimelineServiceStub(channel)
            try:
                events = read_timeline(pb, timelines, args.customer, args.page_size, metadata)
                print(f"Timeline of {args.customer}: {len(events)} events", flush=True)
                for event in events:
                    print(describe(pb, event))
                if args.watch > 0:
                    last_id = max((event.id for event in events), default=0)
                    print(f"Watching {args.customer} after event {last_id} "
                          f"for {args.watch} events", flush=True)
                    watch(pb, timelines, args.customer, last_id, args.watch, metadata)
            except grpc.RpcError as error:
                print(f"propbridged at {args.address} answered {error.code().name}: "
                      f"{error.details()}", file=sys.stderr)
                return 3 if error.code() == grpc.StatusCode.UNAVAILABLE else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
