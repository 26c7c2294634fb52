#!/usr/bin/env python3
"""Benchmark (not a test) of the Python client: what it adds over a raw generated stub.

1. Per primitive, p50 of a call through GraphClient and PostgresGraphExecutor next to the same
   call through the raw grpc stub (protoc + grpc_python_plugin), interleaved call by call, with
   the same channel settings; and the client's own CPU time per call (request building + answer
   conversion; for the executor also the intent check and the prompt text; no network), which
   is the overhead without the network's noise.
2. Throughput of AsyncGraphClient at 64 concurrent calls on one channel, next to the raw
   grpc.aio stub at the same concurrency.

Starts its own serve on a fresh database with the demo data (needs the local stack:
eval "$(scripts/stack env)"), with --grpc-threads above the concurrency, or measures a running
service with --address (demo data loaded).

    build/python-venv/bin/python bench/python_client/client_bench.py [--binary B] [--calls N]
"""
import argparse
import asyncio
import importlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "python"))

import grpc  # noqa: E402
import grpc.aio  # noqa: E402

import postgres_graph_client as pgc  # noqa: E402
from service_process import ADMIN_URL, Service, psql  # noqa: E402

FMA = "de0a0000-0000-4000-8000-000000000001"
FMAB = "de0a0000-0000-4000-8000-000000000003"
BEBOP = "de0a0000-0000-4000-8000-000000000017"


def raw_stubs(workdir):
    subprocess.run(["protoc", "-I", os.path.join(ROOT, "proto"), "--python_out=" + workdir,
                    "--grpc_python_out=" + workdir,
                    "--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin",
                    os.path.join(ROOT, "proto/anime/graph/v1/graph_service.proto")], check=True)
    for d in ("anime", "anime/graph", "anime/graph/v1"):
        open(os.path.join(workdir, d, "__init__.py"), "a").close()
    sys.path.insert(0, workdir)
    return (importlib.import_module("anime.graph.v1.graph_service_pb2"),
            importlib.import_module("anime.graph.v1.graph_service_pb2_grpc"))


def cases(pb, stub, client, executor):
    """(name, raw call, client call, executor call): the same question three ways."""
    return [
        ("neighbors",
         lambda: stub.Neighbors(pb.NeighborsRequest(node_id=FMAB), timeout=5),
         lambda: client.neighbors(FMAB),
         lambda: executor.execute({"query_type": "neighbors", "start_node_id": FMAB})),
        ("k_hop",
         lambda: stub.KHop(pb.KHopRequest(node_id=FMAB, max_hops=2), timeout=5),
         lambda: client.k_hop(FMAB, max_hops=2),
         lambda: executor.execute({"query_type": "k_hop", "start_node_id": FMAB,
                                   "max_hops": 2})),
        ("path",
         lambda: stub.Path(pb.PathRequest(from_id=FMAB, to_id=BEBOP), timeout=5),
         lambda: client.path(FMAB, BEBOP),
         lambda: executor.execute({"query_type": "path", "start_node_id": FMAB,
                                   "end_node_id": BEBOP})),
        ("compare",
         lambda: stub.Compare(pb.CompareRequest(a_id=FMA, b_id=FMAB), timeout=5),
         lambda: client.compare(FMA, FMAB),
         lambda: executor.execute({"query_type": "compare", "start_node_id": FMA,
                                   "end_node_id": FMAB})),
    ]


def timed(fn, n):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def p50_ms(samples):
    return statistics.median(samples) * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=os.path.join(ROOT, "build/src/cli/postgres-service"))
    parser.add_argument("--address", help="a running service with the demo data")
    parser.add_argument("--calls", type=int, default=3000, help="calls per primitive and side")
    parser.add_argument("--async-calls", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--grpc-threads", type=int, default=128,
                        help="serve --grpc-threads: above the concurrency, or gRPC refuses the "
                             "calls beyond its threads with RESOURCE_EXHAUSTED (default 32)")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="psvc-client-bench-")
    service = db = None
    try:
        pb, rpc = raw_stubs(workdir)
        address = args.address
        if not address:
            if not ADMIN_URL:
                raise SystemExit('start the stack: eval "$(scripts/stack env)"')
            db = "psvc_bench_pyclient_%d" % os.getpid()
            owner = ADMIN_URL.rsplit("/", 1)[0] + "/" + db
            psql(ADMIN_URL, "-c", "CREATE DATABASE %s" % db)
            for command in ("migrate", "demo-data"):
                subprocess.run([args.binary, command, "--database-url", owner], check=True,
                               stdout=subprocess.DEVNULL)
            service = Service(args.binary, owner.replace("psvc_owner@", "psvc_app@"),
                              ["--grpc-threads", str(args.grpc_threads)])
            address = service.grpc_address
        run(args, address, pb, rpc)
    finally:
        if service:
            service.stop()
        if db:
            psql(ADMIN_URL, "-c", "DROP DATABASE IF EXISTS %s WITH (FORCE)" % db)
        shutil.rmtree(workdir, ignore_errors=True)


def run(args, address, pb, rpc):
    from postgres_graph_client import _requests as rq
    from postgres_graph_client.executor import _result
    from postgres_graph_client.intent import normalize

    channel = grpc.insecure_channel(address, pgc.options.DEFAULT_CHANNEL_OPTIONS)
    stub = rpc.PostgresGraphServiceStub(channel)
    client = pgc.GraphClient(address)
    executor = pgc.PostgresGraphExecutor(client)
    print("Python client overhead over a raw stub call (%d calls per primitive and side, "
          "interleaved; %s)" % (args.calls, address))
    print("%-10s %10s %10s %10s %12s %12s %11s %11s"
          % ("primitive", "raw p50", "client p50", "exec p50", "client-raw", "exec-raw",
             "client CPU", "exec CPU"))
    for name, raw, typed, intent in cases(pb, stub, client, executor):
        for fn in (raw, typed, intent):
            timed(fn, 200)  # warm up
        # Interleaved call by call (order rotating), so load that comes and goes on a shared
        # machine falls on all three alike.
        samples = {"raw": [], "client": [], "exec": []}
        order = [("raw", raw), ("client", typed), ("exec", intent)]
        clock = time.perf_counter
        for i in range(args.calls):
            k = i % 3
            for side, fn in order[k:] + order[:k]:
                t = clock()
                fn()
                samples[side].append(clock() - t)
        raw_p50, client_p50, exec_p50 = (p50_ms(samples[k]) for k in ("raw", "client", "exec"))
        # The client's own CPU per call: request from names, answer to dataclasses, prompt.
        method = {"neighbors": rq.NEIGHBORS, "k_hop": rq.K_HOP, "path": rq.PATH,
                  "compare": rq.COMPARE}[name]
        response_bytes = raw().SerializeToString()
        intent_dict = {"neighbors": {"query_type": "neighbors", "start_node_id": FMAB},
                       "k_hop": {"query_type": "k_hop", "start_node_id": FMAB, "max_hops": 2},
                       "path": {"query_type": "path", "start_node_id": FMAB,
                                "end_node_id": BEBOP},
                       "compare": {"query_type": "compare", "start_node_id": FMA,
                                   "end_node_id": FMAB}}[name]
        build = {"neighbors": lambda: rq.neighbors(FMAB, (), 0),
                 "k_hop": lambda: rq.k_hop(FMAB, (), 2, 0, 0),
                 "path": lambda: rq.path(FMAB, BEBOP, (), 0),
                 "compare": lambda: rq.compare(FMA, FMAB)}[name]
        response = method.deserialize(response_bytes)

        def client_work():
            request = build()
            return method.convert(request, response)

        def executor_work():
            checked = normalize(intent_dict)
            return _result(checked, client_work()).to_prompt()
        n = 20000
        t = time.perf_counter()
        for _ in range(n):
            client_work()
        client_cpu = (time.perf_counter() - t) / n * 1e6
        t = time.perf_counter()
        for _ in range(n):
            executor_work()
        executor_cpu = (time.perf_counter() - t) / n * 1e6
        print("%-10s %7.3f ms %7.3f ms %7.3f ms %+9.3f ms %+9.3f ms %8.1f us %8.1f us"
              % (name, raw_p50, client_p50, exec_p50, client_p50 - raw_p50, exec_p50 - raw_p50,
                 client_cpu, executor_cpu))
    client.close()
    channel.close()
    asyncio.run(throughput(args, address, pb, rpc))


async def throughput(args, address, pb, rpc):
    print("\nasyncio throughput, %d concurrent calls on one channel, %d neighbors calls"
          % (args.concurrency, args.async_calls))

    async def drive(call):
        remaining = [args.async_calls]

        async def worker():
            while remaining[0] > 0:
                remaining[0] -= 1
                await call()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))

    results = {}
    for attempt in range(2):  # alternate, best of two each
        for side in ("raw aio stub", "AsyncGraphClient"):
            if side == "raw aio stub":
                channel = grpc.aio.insecure_channel(address, pgc.options.DEFAULT_CHANNEL_OPTIONS)
                stub = rpc.PostgresGraphServiceStub(channel)

                async def call():
                    await stub.Neighbors(pb.NeighborsRequest(node_id=FMAB), timeout=5)
                closer = channel.close
            else:
                client = pgc.AsyncGraphClient(address)

                async def call():
                    await client.neighbors(FMAB)
                closer = client.close
            await drive(call)  # warm-up pass is the first measured one's twin
            t = time.perf_counter()
            await drive(call)
            rate = args.async_calls / (time.perf_counter() - t)
            results[side] = max(results.get(side, 0), rate)
            await closer()
    for side, rate in results.items():
        print("%-18s %8.0f calls/s" % (side, rate))


if __name__ == "__main__":
    main()
