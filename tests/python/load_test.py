"""Overload from a second process: a saturated database pool and too many HTTP requests are
refused quickly (RESOURCE_EXHAUSTED / 503 + Retry-After), memory stays bounded, and the service
recovers once the pressure goes.

Usage: load_test.py BINARY   (needs the local stack; loopback only, bounded in count and time)

The database is made slow on purpose (the service runs the SQL graph engine, so graph calls
read it): another session holds ACCESS EXCLUSIVE locks on the tables graph reads and GraphQL
touch, so each call that gets a connection holds it until the
statement timeout. Pool size 2, so every other call must be refused rather than queued.
"""
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import http.client
import urllib.parse

from service_process import Service, ServiceDatabase, ROOT, parse_metrics

BINARY = sys.argv[1]
START = "00000000-0000-4000-8000-000000000001"
OVERLOAD_SECONDS = 4.0
MAX_CALLS = 4000          # bound on gRPC calls in the overload phase
OUTSTANDING = 64          # gRPC calls in flight at once
HTTP_CLIENTS = 24         # concurrent HTTP clients (server: 4 handler threads, 8 in flight)
STATEMENT_TIMEOUT_MS = 1500
ACQUIRE_TIMEOUT_S = 1.0   # graph service and GraphQL pool waits (GraphServiceOptions, GraphqlApiOptions)
RSS_GROWTH_LIMIT = 64 << 20

stubs = tempfile.mkdtemp(prefix="psvc-stubs-")
subprocess.run(["protoc", "-I", os.path.join(ROOT, "proto"), "--python_out=" + stubs,
                "--grpc_python_out=" + stubs,
                "--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin",
                os.path.join(ROOT, "proto/anime/graph/v1/graph_service.proto")], check=True)
for d in ("anime", "anime/graph", "anime/graph/v1"):
    open(os.path.join(stubs, d, "__init__.py"), "a").close()
sys.path.insert(0, stubs)
import grpc  # noqa: E402
from anime.graph.v1 import graph_service_pb2 as pb  # noqa: E402
from anime.graph.v1 import graph_service_pb2_grpc as rpc  # noqa: E402

failures = []


def check(ok, message):
    print(("ok   " if ok else "FAIL ") + message)
    if not ok:
        failures.append(message)


def percentile(values, p):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100.0 * len(values)))]


class LockHolder:
    """A psql session holding ACCESS EXCLUSIVE locks until release()."""

    def __init__(self, url):
        self.proc = subprocess.Popen(["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.proc.stdin.write("BEGIN;\nLOCK TABLE anime, anime_relation IN ACCESS EXCLUSIVE MODE;\n"
                              "\\echo locked\n")
        self.proc.stdin.flush()
        if self.proc.stdout.readline().strip() != "locked":
            raise RuntimeError("could not take the locks")

    def release(self):
        if self.proc.poll() is None:
            self.proc.stdin.write("COMMIT;\n\\q\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=10)


def grpc_overload(stub, results, stop_at):
    """Keeps OUTSTANDING KHop calls in flight until stop_at or MAX_CALLS."""
    lock = threading.Lock()
    done = threading.Semaphore(OUTSTANDING)
    sent = 0

    def finished(fut, started):
        latency = time.monotonic() - started
        detail = ""
        try:
            fut.result()
            code = "OK"
        except grpc.RpcError as e:
            code, detail = e.code().name, e.details()
        with lock:
            results.append((code, latency, detail))
        done.release()

    while time.monotonic() < stop_at and sent < MAX_CALLS:
        done.acquire()
        started = time.monotonic()
        fut = stub.KHop.future(pb.KHopRequest(node_id=START, max_hops=3), timeout=5)
        fut.add_done_callback(lambda f, s=started: finished(f, s))
        sent += 1
    for _ in range(OUTSTANDING):  # wait for the stragglers (each bounded by its 5 s deadline)
        done.acquire()


def http_client(base, results, stop_at):
    u = urllib.parse.urlparse(base)
    body = json.dumps({"query": '{ anime(id: "%s") { title } }' % START})
    while time.monotonic() < stop_at:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        started = time.monotonic()
        try:
            conn.request("POST", "/graphql", body, {"content-type": "application/json"})
            r = conn.getresponse()
            r.read()
            results.append((r.status, r.getheader("Retry-After"), time.monotonic() - started))
        except OSError as e:
            results.append(("error " + str(e), None, time.monotonic() - started))
        finally:
            conn.close()


def main():
    with ServiceDatabase(BINARY, "load") as db:
        # The SQL engine: graph calls then need a pool connection (the memory engine takes none).
        svc = Service(BINARY, db.url, ["--graph-engine", "sql",
                                       "--read-pool-size", "2", "--pool-size", "2",
                                       "--statement-timeout-ms", str(STATEMENT_TIMEOUT_MS),
                                       "--http-threads", "4", "--http-max-in-flight", "8",
                                       "--log-level", "warn"])
        try:
            run(svc, db)
        finally:
            code = svc.stop()
            check(code == 0, "service exits 0 after the load (exit %s)" % code)


def run(svc, db):
    stub = rpc.PostgresGraphServiceStub(grpc.insecure_channel(svc.grpc_address))
    # Warm up: connections opened, statements prepared, allocator settled.
    for _ in range(200):
        stub.KHop(pb.KHopRequest(node_id=START, max_hops=3), timeout=5)
    rss_before = svc.rss_bytes()

    holder = LockHolder(db.owner_url)
    grpc_results, http_results, peak = [], [], [rss_before]
    stop_at = time.monotonic() + OVERLOAD_SECONDS
    threads = [threading.Thread(target=http_client, args=(svc.http_url, http_results, stop_at))
               for _ in range(HTTP_CLIENTS)]
    sampler_stop = threading.Event()

    def sample():
        while not sampler_stop.wait(0.1):
            peak.append(svc.rss_bytes())

    sampler = threading.Thread(target=sample)
    sampler.start()
    for t in threads:
        t.start()
    t0 = time.monotonic()
    try:
        grpc_overload(stub, grpc_results, stop_at)
        for t in threads:
            t.join()
    finally:
        holder.release()
        sampler_stop.set()
        sampler.join()
    elapsed = time.monotonic() - t0

    codes = {}
    why = {}  # who refused: gRPC's thread quota at once, or the pool after its wait
    for code, _, detail in grpc_results:
        codes[code] = codes.get(code, 0) + 1
        if code == "RESOURCE_EXHAUSTED":
            why[detail[:60]] = why.get(detail[:60], 0) + 1
    exhausted = [lat for code, lat, _ in grpc_results if code == "RESOURCE_EXHAUSTED"]
    print("gRPC: %d calls in %.1f s under overload: %s" % (len(grpc_results), elapsed, codes))
    for detail, n in sorted(why.items(), key=lambda kv: -kv[1]):
        print("  RESOURCE_EXHAUSTED x%d: %s" % (n, detail))
    print("gRPC RESOURCE_EXHAUSTED latency: p50 %.0f ms, p99 %.0f ms, max %.0f ms"
          % (percentile(exhausted, 50) * 1000, percentile(exhausted, 99) * 1000,
             max(exhausted or [0]) * 1000))
    check(len(exhausted) >= len(grpc_results) // 2,
          "most calls are refused with RESOURCE_EXHAUSTED while the pool is saturated")
    check(max(exhausted or [99]) < ACQUIRE_TIMEOUT_S + 0.5,
          "every RESOURCE_EXHAUSTED came within the acquire timeout (+0.5 s), not the deadline")
    unexpected = {c: n for c, n in codes.items()
                  if c not in ("OK", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED")}
    check(not unexpected, "no other failures (%s)" % unexpected)

    rejected = [(s, ra, lat) for s, ra, lat in http_results if s == 503]
    hcodes = {}
    for s, _, _ in http_results:
        hcodes[s] = hcodes.get(s, 0) + 1
    print("HTTP: %d GraphQL requests under overload: %s" % (len(http_results), hcodes))
    lat503 = [lat for _, _, lat in rejected]
    print("HTTP 503 latency: p50 %.1f ms, p99 %.1f ms, max %.1f ms"
          % (percentile(lat503, 50) * 1000, percentile(lat503, 99) * 1000,
             max(lat503 or [0]) * 1000))
    check(len(rejected) >= len(http_results) // 2, "most HTTP requests are refused with 503")
    check(all(ra == "1" for _, ra, _ in rejected), "every 503 carries Retry-After: 1")
    check(percentile(lat503, 99) < 0.25, "503s come at once (p99 < 250 ms)")
    check(not any(isinstance(s, str) for s, _, _ in http_results), "no HTTP connection errors")

    rss_peak = max(peak)
    print("RSS: before %.1f MiB, peak %.1f MiB during overload"
          % (rss_before / 2**20, rss_peak / 2**20))
    check(rss_peak - rss_before < RSS_GROWTH_LIMIT,
          "memory stays bounded (peak growth %.1f MiB < %d MiB)"
          % ((rss_peak - rss_before) / 2**20, RSS_GROWTH_LIMIT >> 20))

    # Recovery: the locks are gone; calls succeed at once again.
    t0 = time.monotonic()
    ok = 0
    for _ in range(100):
        stub.KHop(pb.KHopRequest(node_id=START, max_hops=3), timeout=2)
        ok += 1
    recovery = time.monotonic() - t0
    print("recovery: %d KHop calls OK in %.2f s after the overload" % (ok, recovery))
    check(recovery < 5, "100 calls succeed within 5 s once the pressure is gone")
    status, _, _ = svc.get("/readyz")
    check(status == 200, "ready again")
    status, _, text = svc.get("/metrics")
    m = parse_metrics(text)
    method = "/anime.graph.v1.PostgresGraphService/KHop"
    check(m.get('psvc_grpc_requests_total{method="%s",code="RESOURCE_EXHAUSTED"}' % method, 0)
          >= len(exhausted), "metrics count the RESOURCE_EXHAUSTED answers")
    check(m.get('psvc_db_pool_timeouts_total{pool="read"}', 0) > 0,
          "metrics show pool acquisition timeouts")
    check(m.get('psvc_http_requests_total{route="/graphql",method="POST",code="503"}', 0)
          >= len(rejected), "metrics count the 503s")


if __name__ == "__main__":
    try:
        main()
    finally:
        subprocess.run(["rm", "-rf", stubs])
    sys.exit(1 if failures else 0)
