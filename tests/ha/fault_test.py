"""Faults under load in the HA topology (scripts/cluster): real processes, bounded time.

Usage: fault_test.py BINARY        (root; scripts/bootstrap --ha; loopback ports BASE..BASE+300)

Starts its own cluster (PSVC_HA_TEST_PORT_BASE, default 26500) and, under a steady mixed load
through HAProxy (GraphQL reads and recordView mutations, gRPC KHop graph calls, gRPC
ApplyEvent writes, JetStream ingestion), injects one fault at a time:

  serve     kill -9 one serve replica (restarted afterwards)
  nats      kill -9 the NATS node leading ANIME_INGEST, then bring it back
  primary   kill -9 the PostgreSQL leader and its Patroni: Patroni promotes the standby; the
            old leader's node is restarted and rejoins as the standby (pg_rewind)
  standby   stop the standby: reads move to the leader; then start it again
  lag       stop replay on the standby (a query holds a lock the primary's WAL needs): the
            replicas stop reading from it beyond --read-max-lag-ms, and return once replay
            resumes

Clients behave well: a failed call is retried (same event id for writes) with backoff, and
counts as failed only when every attempt failed. After each fault the load goes on until the
cluster is whole again; at the end the load stops, the service drains, and the invariants are
checked against the database and the streams:
  - every acknowledged gRPC write and every acknowledged JetStream publish is applied, once
    (processed_event has its id; exactly one outbox row names it as its cause);
  - nothing was dead-lettered;
  - every outbox row is in ANIME_CHANGES exactly once (by Nats-Msg-Id), nothing else is;
  - every acknowledged recordView is counted, but for the views a SIGKILLed replica had not
    flushed yet (at most one flush interval: the documented bound);
  - reads resumed within READ_RESUME_BOUND_S of each fault.
Prints one line per fault (failed requests per surface, longest read gap); with
--report FILE also writes them as JSON.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts", "ha"))
from nats_wire import Connection as NatsConnection, NatsError  # noqa: E402

BASE = int(os.environ.get("PSVC_HA_TEST_PORT_BASE", "26500"))
CLUSTER_DIR = "/var/tmp/postgres-service/ha-test-%d" % BASE
HTTP = "http://127.0.0.1:%d" % (BASE + 80)
GRPC = "127.0.0.1:%d" % (BASE + 51)
PG_PORTS = [BASE + 101, BASE + 102]
PATRONI_PORTS = [BASE + 111, BASE + 112]
NATS_URLS = ",".join("nats://127.0.0.1:%d" % (BASE + 131 + i) for i in range(3))
SERVE_HTTP = ["http://127.0.0.1:%d" % (BASE + 201 + i) for i in range(2)]
MAX_LAG_MS = 2000
READ_RESUME_BOUND_S = 30.0   # Patroni ttl 10 s + promotion + reconnects, with room for CI
OWNER_URL = ("postgresql://psvc_owner@127.0.0.1:%d,127.0.0.1:%d/anime"
             "?target_session_attrs=read-write&connect_timeout=2" % tuple(PG_PORTS))
FMA = "de0a0000-0000-4000-8000-000000000003"  # demo data: Fullmetal Alchemist: Brotherhood
VIEWED = "de0a0000-0000-4000-8000-000000000001"
RETRY_BACKOFF_S = [0.25, 0.5, 1.0]  # a well-behaved client: 4 attempts over ~1.75 s

failures = []


def check(ok, message):
    print(("ok   " if ok else "FAIL ") + message, flush=True)
    if not ok:
        failures.append(message)


def cluster(*args, check_rc=True):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSVC_") and k != "PGPASSWORD"}
    env.update(PSVC_CLUSTER_PORT_BASE=str(BASE), PSVC_CLUSTER_DIR=CLUSTER_DIR,
               PSVC_BINARY=BINARY, PSVC_CLUSTER_SERVE_ARGS="--read-max-lag-ms %d" % MAX_LAG_MS)
    r = subprocess.run([os.path.join(ROOT, "scripts", "cluster"), *args], env=env, text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if check_rc and r.returncode != 0:
        raise RuntimeError("scripts/cluster %s failed:\n%s" % (" ".join(args), r.stdout))
    return r.stdout


def sql(query, url=OWNER_URL):
    # On stdin: a list of every acknowledged event id is longer than an argument may be.
    r = subprocess.run(["psql", url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"],
                       input=query, text=True, capture_output=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError("psql: " + r.stderr)
    return r.stdout.strip()


def superuser_sql(port, query):
    return sql(query, "postgresql://postgres@127.0.0.1:%d/anime" % port)


def http_get(url, timeout=2):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return 0, str(e)


def wait_until(what, predicate, timeout):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if predicate():
                return True
        except Exception:  # noqa: BLE001 - a component still coming up
            pass
        time.sleep(0.2)
    raise RuntimeError("timed out after %d s waiting for %s" % (timeout, what))


def pid_of(path):
    with open(os.path.join(CLUSTER_DIR, path)) as f:
        return int(f.read().split()[0])


def process_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def leader_index():
    for i in range(2):
        if http_get("http://127.0.0.1:%d/primary" % PATRONI_PORTS[i])[0] == 200:
            return i
    return None


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def whole():
    """Every process up, a leader with a streaming synchronous standby, every replica ready."""
    li = leader_index()
    if li is None:
        return False
    if http_get("http://127.0.0.1:%d/sync" % PATRONI_PORTS[1 - li])[0] != 200:
        return False
    for url in SERVE_HTTP:
        if http_get(url + "/readyz")[0] != 200:
            return False
    for i in range(3):
        if http_get("http://127.0.0.1:%d/healthz" % (BASE + 151 + i))[0] != 200:
            return False
    return True


# ---------------------------------------------------------------- load

class Surface:
    """Outcomes of one kind of request over time: (time, ok) per request after retries."""

    def __init__(self, name):
        self.name = name
        self.lock = threading.Lock()
        self.events = []  # (t_done, ok)
        self.retries = 0

    def record(self, ok, retries):
        with self.lock:
            self.events.append((time.time(), ok))
            self.retries += retries

    def window(self, t0, t1):
        with self.lock:
            ev = [e for e in self.events if t0 <= e[0] < t1]
        return sum(1 for _, ok in ev if ok), sum(1 for _, ok in ev if not ok)

    def longest_gap(self, t0, t1):
        """Longest time within [t0, t1] with no successful request."""
        with self.lock:
            oks = [t for t, ok in self.events if ok and t0 <= t < t1]
        last, gap = t0, 0.0
        for t in oks:
            gap = max(gap, t - last)
            last = t
        return max(gap, t1 - last)


def with_retries(surface, attempt):
    """attempt() returns True (ok), False (failed for good) or None (retryable)."""
    retries = 0
    for backoff in RETRY_BACKOFF_S + [None]:
        try:
            result = attempt()
        except Exception:  # noqa: BLE001 - connection errors are retryable
            result = None
        if result is not None:
            surface.record(result, retries)
            return result
        if backoff is None:
            break
        retries += 1
        time.sleep(backoff)
    surface.record(False, retries)
    return False


def graphql(query, variables=None, timeout=5):
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    req = urllib.request.Request(HTTP + "/graphql", data=body,
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, None


class Load:
    def __init__(self, pb, rpc, grpc):
        self.stop = threading.Event()
        self.pb, self.rpc, self.grpc = pb, rpc, grpc
        self.reads = Surface("graphql_read")
        self.mutations = Surface("graphql_mutation")
        self.graph = Surface("grpc_graph")
        self.writes = Surface("grpc_write")
        self.ingest = Surface("jetstream_ingest")
        self.surfaces = [self.reads, self.mutations, self.graph, self.writes, self.ingest]
        self.acked_views = 0
        self.view_acks = []  # monotonic time of each acknowledged view
        self.view_attempts = 0
        self.acked_write_ids = []
        self.acked_ingest_ids = []
        self.sagas = []  # (saga_id, type, anime a, anime b, refused)
        self.saga_starts_failed = 0
        self.refuse = set()  # anime whose saga the confirmer refuses
        self.confirmer_replies = {"CONFIRMED": 0, "REFUSED": 0}
        self.channel = grpc.insecure_channel(GRPC)
        self.threads = [threading.Thread(target=f, daemon=True) for f in
                        (self.read_loop, self.mutation_loop, self.graph_loop, self.write_loop,
                         self.ingest_loop, self.saga_loop, self.confirmer_loop)]

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)

    def pace(self):
        self.stop.wait(0.02)

    def read_loop(self):
        q = "query($id: ID!) { anime(id: $id) { title } }"

        def attempt():
            status, body = graphql(q, {"id": FMA})
            if status != 200 or body is None:
                return None
            if body.get("errors"):
                return None
            return body["data"]["anime"]["title"] == "Fullmetal Alchemist: Brotherhood" or False
        while not self.stop.is_set():
            with_retries(self.reads, attempt)
            self.pace()

    def mutation_loop(self):
        q = "mutation($id: ID!) { recordView(animeId: $id) { viewCount } }"

        def attempt():
            self.view_attempts += 1
            status, body = graphql(q, {"id": VIEWED})
            if status != 200 or body is None or body.get("errors"):
                return None
            return True
        while not self.stop.is_set():
            if with_retries(self.mutations, attempt):
                self.acked_views += 1
                self.view_acks.append(time.monotonic())
            self.pace()

    def graph_loop(self):
        stub = self.rpc["graph"](self.channel)

        def attempt():
            try:
                r = stub.KHop(self.pb["graph"].KHopRequest(node_id=FMA, max_hops=2), timeout=3)
            except self.grpc.RpcError as e:
                retryable = e.code() in (self.grpc.StatusCode.UNAVAILABLE,
                                         self.grpc.StatusCode.DEADLINE_EXCEEDED,
                                         self.grpc.StatusCode.RESOURCE_EXHAUSTED)
                return None if retryable else False
            return (r.start_found and len(r.results) > 0) or False
        while not self.stop.is_set():
            with_retries(self.graph, attempt)
            self.pace()

    def envelope(self, event_id, anime_id, title):
        ev = self.pb["events"]
        env = ev.EventEnvelope(event_id=event_id, producer="ha-fault-test", schema_version=1)
        env.occurred_at.GetCurrentTime()
        env.anime_enriched.anime_id = anime_id
        env.anime_enriched.fields.title = title
        return env

    def write_loop(self):
        stub = self.rpc["write"](self.channel)
        write_pb = self.pb["write"]
        while not self.stop.is_set():
            event_id = str(uuid.uuid4())
            env = self.envelope(event_id, str(uuid.uuid4()), "ha write " + event_id[:8])

            def attempt():
                try:
                    r = stub.ApplyEvent(write_pb.ApplyEventRequest(event=env), timeout=3)
                except self.grpc.RpcError as e:
                    retryable = e.code() in (self.grpc.StatusCode.UNAVAILABLE,
                                             self.grpc.StatusCode.DEADLINE_EXCEEDED,
                                             self.grpc.StatusCode.ABORTED,
                                             self.grpc.StatusCode.RESOURCE_EXHAUSTED)
                    return None if retryable else False
                return r.outcome in (write_pb.OUTCOME_APPLIED, write_pb.OUTCOME_ALREADY_APPLIED)
            if with_retries(self.writes, attempt):
                self.acked_write_ids.append(event_id)
            self.pace()

    def ingest_loop(self):
        nc = None
        while not self.stop.is_set():
            event_id = str(uuid.uuid4())
            payload = self.envelope(event_id, str(uuid.uuid4()),
                                    "ha ingest " + event_id[:8]).SerializeToString()

            def attempt():
                nonlocal nc
                try:
                    if nc is None:
                        nc = NatsConnection(NATS_URLS, timeout=2)
                    nc.js_publish("anime.ingest.enriched", payload, event_id, timeout=2)
                    return True
                except (NatsError, OSError):
                    if nc is not None:
                        nc.close()
                    nc = None
                    return None
            if with_retries(self.ingest, attempt):
                self.acked_ingest_ids.append(event_id)
            self.pace()

    def saga_loop(self):
        """A MergeAnime or RemoveAnime of fresh anime every ~1.5 s, alternating; two of every
        four are refused by the confirmer (so compensated), the others confirmed."""
        stub = self.rpc["write"](self.channel)
        write_pb = self.pb["write"]
        retryable = (self.grpc.StatusCode.UNAVAILABLE, self.grpc.StatusCode.DEADLINE_EXCEEDED,
                     self.grpc.StatusCode.ABORTED, self.grpc.StatusCode.RESOURCE_EXHAUSTED)

        def call(rpc, request):
            for backoff in RETRY_BACKOFF_S + [None]:  # same request (event / request id)
                try:
                    return rpc(request, timeout=3)
                except self.grpc.RpcError as e:
                    if e.code() not in retryable or backoff is None:
                        return None
                time.sleep(backoff)
        i = 0
        while not self.stop.is_set():
            i += 1
            a, b = str(uuid.uuid4()), str(uuid.uuid4())
            created = [call(stub.ApplyEvent, write_pb.ApplyEventRequest(
                event=self.envelope(str(uuid.uuid4()), x, "ha saga " + x[:8]))) for x in (a, b)]
            if any(r is None for r in created):
                self.saga_starts_failed += 1
                continue
            refused = i % 4 in (0, 1)
            if refused:
                self.refuse.add(a)
            if i % 2:
                kind = "MergeAnime"
                r = call(stub.StartMergeAnime, write_pb.StartMergeAnimeRequest(
                    request_id=str(uuid.uuid4()), duplicate_id=a, survivor_id=b))
            else:
                kind = "RemoveAnime"
                r = call(stub.StartRemoveAnime, write_pb.StartRemoveAnimeRequest(
                    request_id=str(uuid.uuid4()), anime_id=a, reason="ha test"))
            if r is None:
                self.saga_starts_failed += 1
            else:
                self.sagas.append((r.saga_id, kind, a, b, refused))
            self.stop.wait(1.5)

    def confirmer_loop(self):
        """Plays the Qdrant Sync Service: answers every confirmation request on the change
        stream (a request lost with a NATS node is asked again by the saga)."""
        while not self.stop.is_set():
            try:
                with NatsConnection(NATS_URLS) as nc:
                    nc.subscribe("anime.changes.AnimeMerged")
                    nc.subscribe("anime.changes.AnimeRemoved")
                    while not self.stop.is_set():
                        m = nc.next_message(time.time() + 0.5)
                        if m is None:
                            continue
                        req = json.loads(m[2])
                        anime = req.get("duplicate_id") or req["anime_id"]
                        outcome = "REFUSED" if anime in self.refuse else "CONFIRMED"
                        nc.publish(req["reply_subject"], b"ha test",
                                   headers={"Psvc-Saga-Outcome": outcome})
                        self.confirmer_replies[outcome] += 1
            except (NatsError, OSError):
                self.stop.wait(0.5)

    def summary(self, t0, t1):
        out = {}
        for s in self.surfaces:
            ok, failed = s.window(t0, t1)
            out[s.name] = {"ok": ok, "failed": failed}
        out["read_gap_s"] = round(max(self.reads.longest_gap(t0, t1),
                                      self.graph.longest_gap(t0, t1)), 2)
        out["write_gap_s"] = round(max(self.writes.longest_gap(t0, t1),
                                       self.mutations.longest_gap(t0, t1)), 2)
        out["ingest_gap_s"] = round(self.ingest.longest_gap(t0, t1), 2)
        return out


# ---------------------------------------------------------------- faults

# When serve replicas were killed with SIGKILL (monotonic clock): the views they had counted
# but not yet flushed are lost, at most one flush interval's worth (README, docs/graphql.md).
SERVE_KILLED_AT = []
VIEW_FLUSH_S = 1.0  # serve's default --view-flush-ms
STATEMENT_TIMEOUT_S = 2.0  # serve's default --statement-timeout-ms
SAGA_LEASE_MS = 5000
SAGA_REPLY_TIMEOUT_MS = 10000


def fault_serve(_load):
    SERVE_KILLED_AT.append(time.monotonic())
    os.kill(pid_of("serve1/pid"), signal.SIGKILL)
    time.sleep(4)  # under load with one replica down
    return lambda: cluster("up")


def fault_nats(_load):
    # The node leading the ingestion stream: the harshest node to lose (a follower's loss
    # changes nothing a client sees).
    with NatsConnection(NATS_URLS) as nc:
        leader = nc.js_api("STREAM.INFO.ANIME_INGEST")["cluster"]["leader"]  # psvc-n<k>
    os.kill(pid_of("nats%s/pid" % leader.rsplit("n", 1)[1]), signal.SIGKILL)
    time.sleep(6)
    return lambda: cluster("up")


def fault_primary(_load):
    li = leader_index()
    pg_pid = int(open(os.path.join(CLUSTER_DIR, "pg%d/data/postmaster.pid" % (li + 1))).readline())
    os.kill(pid_of("pg%d/patroni.pid" % (li + 1)), signal.SIGKILL)
    os.kill(pg_pid, signal.SIGKILL)
    # The standby is promoted after Patroni's ttl; the load runs on meanwhile.
    wait_until("the standby's promotion", lambda: leader_index() == 1 - li, 60)
    time.sleep(2)
    return lambda: cluster("up")


def fault_standby(_load):
    li = leader_index()
    standby = 1 - li
    pid = pid_of("pg%d/patroni.pid" % (standby + 1))
    os.kill(pid, signal.SIGTERM)  # Patroni stops PostgreSQL, then exits
    wait_until("the standby's Patroni to exit", lambda: not process_alive(pid), 60)
    time.sleep(4)  # reads now on the leader
    return lambda: cluster("up")


def fault_lag(_load):
    """Replay stops behind a query on the standby that holds a lock the primary's WAL needs
    (Patroni resumes a replay paused by hand within a second, so that is no way to lag)."""
    li = leader_index()
    standby_port = PG_PORTS[1 - li]
    sql("CREATE TABLE IF NOT EXISTS ha_lag_probe (x int)")
    wait_until("the probe table on the standby", lambda: superuser_sql(
        standby_port, "SELECT count(*) FROM pg_class WHERE relname = 'ha_lag_probe'") == "1", 30)
    holder = subprocess.Popen(
        ["psql", "postgresql://postgres@127.0.0.1:%d/anime" % standby_port, "-X", "-q", "-c",
         "BEGIN; SELECT * FROM ha_lag_probe; SELECT pg_sleep(60); COMMIT;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until("the standby's query to hold its lock", lambda: superuser_sql(
            standby_port, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
            "'%pg_sleep(60)%' AND pid <> pg_backend_pid()") == "1", 30)
        # Replayed on the standby, this lock waits for the query: replay stops behind it
        # (up to max_standby_streaming_delay, 30 s) while the load keeps writing.
        sql("BEGIN; LOCK TABLE ha_lag_probe IN ACCESS EXCLUSIVE MODE; COMMIT;")

        def fallen_back():
            return all(metric(http_get(u + "/metrics")[1], "psvc_db_replica_fallback") == 1.0
                       for u in SERVE_HTTP)
        t0 = time.time()
        wait_until("the replicas to stop reading from the lagging standby", fallen_back, 25)
        check(True, "lag: both replicas read from the leader %.1f s after replay stopped "
              "(bound %d ms)" % (time.time() - t0, MAX_LAG_MS))
    finally:
        holder.kill()
        holder.wait()
        superuser_sql(standby_port, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()")

    def back():
        return all(metric(http_get(u + "/metrics")[1], "psvc_db_replica_fallback") == 0.0
                   for u in SERVE_HTTP)
    t0 = time.time()
    wait_until("the replicas to read from the standby again", back, 30)
    check(True, "lag: both replicas read from the standby again %.1f s after replay resumed"
          % (time.time() - t0))
    return lambda: None


def fault_stall(load):
    """The synchronous standby stops confirming WAL (its WAL receiver is frozen), so commits
    on the primary wait for it. No write may be acknowledged meanwhile, not even after the
    service's statement timeout has passed.
    Then the waits are cancelled by hand, which leaves those commits visible on the primary
    only (PostgreSQL warns and keeps the local commit). The relay must announce none of them,
    since a failover now would lose them: every message published during the stall names an
    outbox row the standby holds."""
    li = leader_index()
    standby_port = PG_PORTS[1 - li]
    receiver = int(superuser_sql(standby_port, "SELECT pid FROM pg_stat_wal_receiver"))
    before = {m[1] for m in stream_msg_ids("ANIME_CHANGES")}
    os.kill(receiver, signal.SIGSTOP)
    t_stop = time.time()
    try:
        time.sleep(STATEMENT_TIMEOUT_S + 1)  # the load keeps writing
        acked, _ = load.writes.window(t_stop + 0.5, time.time())
        check(acked == 0, "stall: no gRPC write acknowledged while the standby confirmed "
              "nothing, past the %.0f s statement timeout (%d acknowledged)"
              % (STATEMENT_TIMEOUT_S, acked))
        waiting = superuser_sql(PG_PORTS[li], "SELECT count(pg_cancel_backend(pid)) FROM "
                                "pg_stat_activity WHERE wait_event = 'SyncRep'")
        time.sleep(2)  # the relay polls every second
        new = sorted({m[1] for m in stream_msg_ids("ANIME_CHANGES")} - before, key=int)
        on_standby = superuser_sql(standby_port, "SELECT count(*) FROM qdrant_outbox WHERE id "
                                   "= ANY('{%s}'::bigint[])" % ",".join(new)) if new else "0"
    finally:
        os.kill(receiver, signal.SIGCONT)
    check(int(waiting) > 0 and int(on_standby) == len(new),
          "stall: only replicated rows published while the standby confirmed nothing (%s "
          "waits for it cancelled; %d messages published, %s of their rows on the standby)"
          % (waiting, len(new), on_standby))
    return lambda: None


FAULTS = {"serve": fault_serve, "nats": fault_nats, "primary": fault_primary,
          "standby": fault_standby, "lag": fault_lag, "stall": fault_stall}


# ---------------------------------------------------------------- invariants

def stream_msg_ids(stream):
    with NatsConnection(NATS_URLS, timeout=10) as nc:
        return [(subj, hdrs.get("Nats-Msg-Id"), hdrs.get("Psvc-Aggregate-Id"), seq)
                for seq, subj, hdrs, _ in nc.stream_messages(stream, timeout=10)]


def check_sagas(load):
    """Every saga started under the faults ends, a refused one compensated, and the catalogue
    shows exactly its outcome (docs/sagas.md)."""
    stub = load.rpc["write"](load.channel)
    status = load.pb["write"].SagaStatus
    final = {}

    def all_finished():
        for saga_id, *_ in load.sagas:
            if saga_id not in final:
                try:
                    st = stub.GetSaga(load.pb["write"].GetSagaRequest(saga_id=saga_id),
                                      timeout=3).status
                except load.grpc.RpcError:
                    return False
                if st in (status.SAGA_STATUS_COMPLETED, status.SAGA_STATUS_COMPENSATED):
                    final[saga_id] = st
        return len(final) == len(load.sagas)
    try:
        # A saga on a killed replica resumes after the lease; a lost request is asked again
        # after the reply timeout.
        wait_until("every saga finished", all_finished, 120)
    except RuntimeError as e:
        check(False, "%s: %d of %d" % (e, len(final), len(load.sagas)))
        return
    wrong = []
    for saga_id, kind, a, b, refused in load.sagas:
        completed = final[saga_id] == status.SAGA_STATUS_COMPLETED
        a_row = sql("SELECT count(*) FROM anime WHERE id = '%s' AND hidden_at IS NULL" % a)
        if kind == "MergeAnime":
            redirect = sql("SELECT count(*) FROM anime_redirect WHERE from_id = '%s' AND "
                           "to_id = '%s'" % (a, b))
            b_row = sql("SELECT count(*) FROM anime WHERE id = '%s'" % b)
            shown = (a_row, redirect, b_row) == (("0", "1", "1") if completed else ("1", "0", "1"))
        else:
            tomb = sql("SELECT count(*) FROM anime_tombstone WHERE anime_id = '%s'" % a)
            shown = (a_row, tomb) == (("0", "1") if completed else ("1", "0"))
        if not shown or (refused and completed):
            wrong.append((saga_id, kind, "COMPLETED" if completed else "COMPENSATED", refused))
    done = sum(1 for st in final.values() if st == status.SAGA_STATUS_COMPLETED)
    check(load.sagas and not wrong,
          "every saga ended as its confirmation says and the catalogue shows it: %d sagas (%d "
          "completed, %d compensated, %d of them refused; %d starts failed after retries); "
          "wrong: %s" % (len(load.sagas), done, len(load.sagas) - done,
                         sum(1 for s in load.sagas if s[4]), load.saga_starts_failed, wrong[:5]))


def check_invariants(load):
    acked = load.acked_write_ids + load.acked_ingest_ids
    ids_sql = "'{%s}'::uuid[]" % ",".join(acked)

    def applied():
        return int(sql("SELECT count(*) FROM processed_event WHERE event_id = ANY(%s)" % ids_sql)) \
            == len(acked)

    def drained():
        return sql("SELECT count(*) FROM qdrant_outbox WHERE published_at IS NULL") == "0"
    try:
        wait_until("every acknowledged event applied", applied, 120)
        # Views counted in the last interval are flushed (an outbox row) up to one interval
        # after the load stopped; the outbox must be complete before it is compared.
        time.sleep(2 * VIEW_FLUSH_S)
        wait_until("the outbox drained", drained, 120)
    except RuntimeError as e:
        check(False, str(e))
    missing = int(sql("SELECT count(*) FROM unnest(%s) AS a(id) WHERE NOT EXISTS "
                      "(SELECT 1 FROM processed_event p WHERE p.event_id = a.id)" % ids_sql))
    check(missing == 0, "every acknowledged write is applied: %d gRPC + %d JetStream, %d missing"
          % (len(load.acked_write_ids), len(load.acked_ingest_ids), missing))
    per_cause = sql("SELECT count(*) FILTER (WHERE n <> 1), count(*) FROM (SELECT cause, count(*) n "
                    "FROM (SELECT convert_from(payload, 'UTF8')::json->>'cause_event_id' AS cause "
                    "FROM qdrant_outbox WHERE event_type = 'AnimeEnriched') c GROUP BY cause) g")
    bad, causes = (int(x) for x in per_cause.split("|"))
    check(bad == 0 and causes >= len(acked),
          "every applied event changed the data once: %d events with one outbox row, %d with "
          "another number" % (causes - bad, bad))
    ingest = stream_msg_ids("ANIME_INGEST")
    dead = [m for m in ingest if m[0] == "anime.ingest.dlq"]
    check(not dead, "no ingested event dead-lettered (%d)" % len(dead))
    outbox = set(sql("SELECT id FROM qdrant_outbox").split())
    changes_msgs = stream_msg_ids("ANIME_CHANGES")
    changes = [m[1] for m in changes_msgs]
    dupes = len(changes) - len(set(changes))
    unknown = set(changes) - outbox
    if unknown:
        print("     unknown messages %s; outbox ids %s..%s" % (
            [m for m in changes_msgs if m[1] in unknown][:10],
            min(outbox, key=int, default="-"), max(outbox, key=int, default="-")))
    check(set(changes) == outbox and dupes == 0,
          "ANIME_CHANGES holds every outbox row exactly once: %d rows, %d messages, %d missing, "
          "%d unknown, %d duplicates" % (len(outbox), len(changes), len(outbox - set(changes)),
                                         len(set(changes) - outbox), dupes))
    check_sagas(load)
    views = int(sql("SELECT view_count FROM anime WHERE id = '%s'" % VIEWED)) - VIEWS_BEFORE
    # The documented bound: a replica killed with SIGKILL loses the views it counted since its
    # last flush. Allowed: every view acknowledged (by either replica, a superset) within two
    # flush intervals before a kill, the interval pending plus one whose flush was in flight.
    may_lose = sum(1 for t in load.view_acks for k in SERVE_KILLED_AT
                   if k - 2 * VIEW_FLUSH_S <= t <= k)
    check(load.acked_views - may_lose <= views <= load.view_attempts,
          "every acknowledged recordView counted but for the bound of a SIGKILLed replica: "
          "%d acknowledged, %d counted (at least %d), %d attempts"
          % (load.acked_views, views, load.acked_views - may_lose, load.view_attempts))


# ---------------------------------------------------------------- main

def stubs():
    out = tempfile.mkdtemp(prefix="psvc-ha-stubs-")
    protos = ["anime/graph/v1/graph_service.proto", "anime/write/v1/write_service.proto",
              "anime/events/v1/events.proto"]
    subprocess.run(["protoc", "-I", os.path.join(ROOT, "proto"), "--python_out=" + out,
                    "--grpc_python_out=" + out,
                    "--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin",
                    *[os.path.join(ROOT, "proto", p) for p in protos]], check=True)
    for d in ("anime", "anime/graph", "anime/graph/v1", "anime/write", "anime/write/v1",
              "anime/events", "anime/events/v1"):
        open(os.path.join(out, d, "__init__.py"), "a").close()
    sys.path.insert(0, out)
    import grpc
    from anime.graph.v1 import graph_service_pb2, graph_service_pb2_grpc
    from anime.write.v1 import write_service_pb2, write_service_pb2_grpc
    from anime.events.v1 import events_pb2
    pb = {"graph": graph_service_pb2, "write": write_service_pb2, "events": events_pb2}
    rpc = {"graph": graph_service_pb2_grpc.PostgresGraphServiceStub,
           "write": write_service_pb2_grpc.PostgresWriteServiceStub}
    return pb, rpc, grpc


def main():
    global BINARY, VIEWS_BEFORE
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--faults", default="serve,nats,primary,standby,lag,stall")
    ap.add_argument("--report", help="write the measurements as JSON to this file")
    ap.add_argument("--keep", action="store_true", help="leave the cluster running at the end")
    args = ap.parse_args()
    BINARY = os.path.abspath(args.binary)
    pb, rpc, grpc = stubs()
    started = time.time()
    # Sagas finish within the test: a killed replica's saga resumes after the lease, and a
    # reply timeout longer than a primary failover (~12 s) so a confirmation is asked 3 times
    # within ~30 s.
    os.environ["PSVC_CLUSTER_SERVE_ARGS"] = (
        "--saga-lease-ms %d --saga-reply-timeout-ms %d" % (SAGA_LEASE_MS, SAGA_REPLY_TIMEOUT_MS))
    cluster("clean", check_rc=False)
    results = {}
    try:
        cluster("up")
        subprocess.run([BINARY, "demo-data", "--database-url", OWNER_URL], check=True,
                       stdout=subprocess.DEVNULL)
        wait_until("the cluster whole", whole, 60)
        VIEWS_BEFORE = int(sql("SELECT view_count FROM anime WHERE id = '%s'" % VIEWED))
        print("cluster up in %.1f s" % (time.time() - started), flush=True)
        load = Load(pb, rpc, grpc)
        load.start()
        time.sleep(3)
        steady = load.summary(time.time() - 3, time.time())
        check(all(steady[s.name]["failed"] == 0 and steady[s.name]["ok"] > 0
                  for s in load.surfaces), "steady load before faults: %s" % json.dumps(steady))
        for name in args.faults.split(","):
            t0 = time.time()
            heal = FAULTS[name](load)
            t_fault_end = time.time()
            heal()
            wait_until("the cluster whole after fault %s" % name, whole, 120)
            time.sleep(2)  # load on the healed cluster
            t1 = time.time()
            s = load.summary(t0, t1)
            s["fault_s"] = round(t_fault_end - t0, 1)
            s["healed_s"] = round(t1 - t0, 1)
            results[name] = s
            print("fault %-8s %s" % (name, json.dumps(s)), flush=True)
            check(s["read_gap_s"] <= READ_RESUME_BOUND_S,
                  "%s: reads resumed within %.0f s (longest gap %.2f s)"
                  % (name, READ_RESUME_BOUND_S, s["read_gap_s"]))
        load.finish()
        results["retries"] = {s.name: s.retries for s in load.surfaces}
        check_invariants(load)
    except BaseException:
        failures.append("aborted")
        raise
    finally:
        if failures:  # keep the evidence: every process's log
            logs = tempfile.mkdtemp(prefix="psvc-ha-logs-")
            subprocess.run("cp --parents */*.log %s/ 2>/dev/null" % logs, shell=True,
                           cwd=CLUSTER_DIR)
            print("logs of the cluster kept in " + logs)
        if args.report:
            with open(args.report, "w") as f:
                json.dump(results, f, indent=1)
        if not args.keep:
            cluster("clean", check_rc=False)
    print("total %.1f s" % (time.time() - started))
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
