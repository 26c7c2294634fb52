"""Operations of a real `postgres-service serve` process: readiness follows NATS, one HTTP
access line per request with GraphQL metrics, HTTPS with mTLS, and the config file.

Usage: ops_test.py BINARY   (needs the local stack: eval "$(scripts/stack env)")
NATS outages use a private nats-server on a free port, never the shared stack's.
"""
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

from service_process import Service, ServiceDatabase, ROOT, free_port, parse_metrics

BINARY = sys.argv.pop(1) if len(sys.argv) > 1 else os.environ.get("PSVC_BINARY", "")
TOKEN = "ops-test-token-0123456789"
ANIME = "00000000-0000-4000-8000-000000000001"
DB = None


def wait_for(predicate, seconds, what):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("not within %d s: %s" % (seconds, what))


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class PrivateNats:
    """nats-server with JetStream on a free port; Kill() and Start() keep port and store."""

    def __init__(self):
        self.port = free_port()
        self.store = tempfile.mkdtemp(prefix="psvc-nats-")
        self.proc = None
        self.url = "nats://127.0.0.1:%d" % self.port

    def start(self):
        self.proc = subprocess.Popen(
            ["nats-server", "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", self.store],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: port_open(self.port), 10, "nats-server listening")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def close(self):
        self.kill()
        shutil.rmtree(self.store, ignore_errors=True)


def graphql(svc, query, variables=None, headers=None):
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    req = urllib.request.Request(svc.http_url + "/graphql", data=body, method="POST",
                                 headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def graphql_body(svc, body):
    """(status, body) of a POST /graphql with this JSON body."""
    req = urllib.request.Request(svc.http_url + "/graphql", data=json.dumps(body).encode(),
                                 method="POST", headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def access_lines(svc):
    out = []
    for line in svc.log().splitlines():
        if line.startswith("{") and '"type":"request"' in line:
            out.append(json.loads(line))
    return out


class ReadinessFollowsNats(unittest.TestCase):
    def test_readyz_is_503_with_a_reason_while_nats_is_down_and_recovers(self):
        nats = PrivateNats()
        self.addCleanup(nats.close)
        nats.start()
        svc = Service(BINARY, DB.url, nats_url=nats.url)
        self.addCleanup(svc.stop)
        wait_for(lambda: svc.get("/readyz")[0] == 200, 15, "ready with NATS up")
        nats.kill()
        status, _, body = wait_for(
            lambda: (lambda r: r if r[0] == 503 else None)(svc.get("/readyz")), 10,
            "503 once NATS is down")
        self.assertIn("NATS not connected", body)
        self.assertNotIn(nats.url, body)  # URLs may carry credentials
        self.assertEqual(svc.get("/healthz")[0], 200)  # alive, just not ready
        nats.start()
        wait_for(lambda: svc.get("/readyz")[0] == 200, 15, "ready again after NATS restarts")

    def test_without_events_nats_is_not_checked(self):
        svc = Service(BINARY, DB.url)
        self.addCleanup(svc.stop)
        self.assertEqual(svc.get("/readyz")[:3:2], (200, "ready\n"))


class HttpAccessLogsAndMetrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.svc = Service(BINARY, DB.url, ["--auth-tokens", TOKEN])

    @classmethod
    def tearDownClass(cls):
        cls.svc.stop()

    def test_one_access_line_per_request_without_variables_or_tokens(self):
        marker = "00000000-0000-4000-8000-00000000beef"  # a variable value: must not be logged
        trace = "4bf92f3577b34da6a3ce929d0e0e4736"
        status, headers, body = graphql(
            self.svc, "query Q($id: ID!) { anime(id: $id) { title } }", {"id": marker},
            {"traceparent": "00-%s-00f067aa0ba902b7-01" % trace,
             "authorization": "Bearer " + TOKEN})
        self.assertEqual(status, 200, body)
        rid = headers["X-Request-Id"]
        status, headers2, _ = self.svc.get("/graphql?query=%7B__typename%7D&variables=%7B%22x%22%3A%22"
                                           + marker + "%22%7D", {"accept": "application/json"})
        self.assertEqual(status, 200)
        time.sleep(0.2)
        lines = [line for line in access_lines(self.svc) if line.get("request_id") == rid]
        self.assertEqual(len(lines), 1, lines)
        line = lines[0]
        self.assertEqual(line["surface"], "http")
        self.assertEqual(line["method"], "POST /graphql")
        self.assertEqual(line["status"], "200")
        self.assertEqual(line["operation"], "query")
        self.assertEqual(line["trace_id"], trace)
        self.assertGreater(line["duration_ms"], 0)
        get_lines = [x for x in access_lines(self.svc)
                     if x.get("request_id") == headers2["X-Request-Id"]]
        self.assertEqual([x["method"] for x in get_lines], ["GET /graphql"])
        log = self.svc.log()
        self.assertNotIn(marker, log)
        self.assertNotIn(TOKEN, log)

    def test_graphql_metrics_by_operation_type_and_outcome(self):
        graphql(self.svc, "{ anime(id: \"%s\") { title } }" % ANIME)
        graphql(self.svc, "{ nope }")  # validation error: a request error
        mutation = 'mutation { recordView(animeId: "%s") { __typename } }' % ANIME
        self.assertEqual(graphql(self.svc, mutation)[0], 401)
        self.assertEqual(graphql(self.svc, mutation, headers={"authorization": "Bearer " + TOKEN})[0],
                         200)
        self.svc.get("/no/such/path")
        status, _, text = self.svc.get("/metrics")
        self.assertEqual(status, 200)
        m = parse_metrics(text)
        g = 'psvc_graphql_requests_total{operation="%s",outcome="%s"}'
        self.assertGreaterEqual(m[g % ("query", "ok")], 1)
        self.assertGreaterEqual(m[g % ("query", "request_error")], 1)  # parses, fails validation
        self.assertGreaterEqual(m[g % ("mutation", "unauthenticated")], 1)
        self.assertGreaterEqual(m[g % ("mutation", "ok")], 1)
        self.assertGreaterEqual(m['psvc_graphql_request_duration_seconds_count{operation="mutation"}'], 1)
        self.assertGreaterEqual(m['psvc_http_requests_total{route="/graphql",method="POST",code="401"}'], 1)
        self.assertGreaterEqual(m['psvc_http_requests_total{route="unmatched",method="GET",code="404"}'], 1)
        self.assertNotIn("/no/such/path", text)  # unknown paths never become label values
        statements = {k: v for k, v in m.items()
                      if k.startswith("psvc_db_statement_duration_seconds_count{")}
        self.assertTrue(statements, "no SQL statement metrics")
        self.assertTrue(all(v >= 1 for v in statements.values()))


    def test_persisted_query_hits_prepare_no_document(self):
        def prepared():
            return parse_metrics(self.svc.get("/metrics")[2])["psvc_graphql_documents_prepared_total"]

        query = '{ anime(id: "%s") { title year } apqMetric: __typename }' % ANIME
        ext = {"persistedQuery": {"version": 1,
                                  "sha256Hash": hashlib.sha256(query.encode()).hexdigest()}}
        before = prepared()
        status, body = graphql_body(self.svc, {"query": query, "extensions": ext})
        self.assertEqual(status, 200, body)
        registered = prepared()
        self.assertEqual(registered, before + 1)  # a new document: parsed and validated once
        for _ in range(5):
            status, body = graphql_body(self.svc, {"extensions": ext})
            self.assertEqual(status, 200, body)
            self.assertIn('"data"', body)
        self.assertEqual(prepared(), registered)  # hits: no parse, no validation


def make_pki(directory):
    subprocess.run(["bash", os.path.join(ROOT, "tests/tls/make_test_pki.sh"), directory],
                   check=True)


class Https(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = tempfile.mkdtemp(prefix="psvc-pki-")
        make_pki(cls.pki)
        p = lambda name: os.path.join(cls.pki, name)  # noqa: E731
        cls.svc = Service(BINARY, DB.url, ["--auth-tokens", TOKEN, "--tls-cert", p("server.pem"),
                                           "--tls-key", p("server.key"),
                                           "--tls-client-ca", p("ca.pem")])

    @classmethod
    def tearDownClass(cls):
        cls.svc.stop()
        shutil.rmtree(cls.pki, ignore_errors=True)

    def curl(self, path, *args, data=None):
        cmd = ["curl", "-sS", "-o", "/dev/stderr", "-w", "%{http_code}", "--max-time", "5",
               "--cacert", os.path.join(self.pki, "ca.pem"), *args]
        if data:
            cmd += ["-H", "content-type: application/json", "--data", data]
        r = subprocess.run(cmd + [self.svc.http_url + path], capture_output=True, text=True)
        return r.returncode, r.stdout, r.stderr

    def test_serves_https_only(self):
        self.assertTrue(self.svc.http_url.startswith("https://"))
        self.assertEqual(self.curl("/healthz")[:2], (0, "200"))
        plain = subprocess.run(["curl", "-sS", "--max-time", "5",
                                self.svc.http_url.replace("https://", "http://") + "/healthz"],
                               capture_output=True, text=True)
        self.assertNotEqual(plain.returncode, 0)

    def test_verified_client_certificate_authorizes_mutations(self):
        q = json.dumps({"query": 'mutation { recordView(animeId: "%s") { __typename } }' % ANIME})
        self.assertEqual(self.curl("/graphql", data=q)[1], "401")
        cert = ["--cert", os.path.join(self.pki, "client.pem"),
                "--key", os.path.join(self.pki, "client.key")]
        code, status, body = self.curl("/graphql", *cert, data=q)
        self.assertEqual((code, status), (0, "200"), body)
        self.assertIn("RecordViewPayload", body)
        self.assertEqual(self.curl("/graphql", "-H", "authorization: Bearer " + TOKEN, data=q)[1],
                         "200")

    def test_graph_cli_calls_over_tls(self):
        cli = [BINARY, "graph", "--address", self.svc.grpc_address, "--timeout-ms", "3000"]
        ok = subprocess.run(cli + ["--tls-ca", os.path.join(self.pki, "ca.pem"), "k-hop", ANIME],
                            capture_output=True, text=True)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertIn("limits:", ok.stdout)
        plain = subprocess.run(cli + ["k-hop", ANIME], capture_output=True, text=True)
        self.assertNotEqual(plain.returncode, 0)

    def test_certificate_from_another_ca_is_refused_in_the_handshake(self):
        rogue = ["--cert", os.path.join(self.pki, "rogue.pem"),
                 "--key", os.path.join(self.pki, "rogue.key")]
        code, status, err = self.curl("/healthz", *rogue)
        self.assertNotEqual(code, 0)
        self.assertNotEqual(status, "200")


class GraphCliToken(unittest.TestCase):
    def test_read_auth_needs_the_token_and_the_cli_sends_it(self):
        svc = Service(BINARY, DB.url, ["--auth-tokens", TOKEN, "--read-auth"])
        self.addCleanup(svc.stop)
        cli = [BINARY, "graph", "--address", svc.grpc_address, "k-hop", ANIME]
        env = {k: v for k, v in os.environ.items() if k != "PSVC_TOKEN"}
        denied = subprocess.run(cli, capture_output=True, text=True, env=env)
        self.assertNotEqual(denied.returncode, 0)
        self.assertIn("missing or invalid credentials", denied.stdout + denied.stderr)
        ok = subprocess.run(cli, capture_output=True, text=True, env=dict(env, PSVC_TOKEN=TOKEN))
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertNotIn(TOKEN, svc.log())


class ConfigFile(unittest.TestCase):
    def run_serve(self, args, env=None, timeout=20):
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("PSVC_")}
        full_env.pop("DATABASE_URL", None)
        full_env.pop("NATS_URL", None)
        full_env.update(env or {})
        return subprocess.run([BINARY, "serve", *args], capture_output=True, text=True,
                              env=full_env, timeout=timeout)

    def write(self, text):
        f = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
        f.write(text)
        f.close()
        self.addCleanup(os.unlink, f.name)
        return f.name

    def test_precedence_flag_over_env_over_file_over_default(self):
        p_file, p_env, p_flag = free_port(), free_port(), free_port()
        conf = self.write("# settings\ndatabase-url = %s\nhttp-port = %d\n"
                          "grpc-address = \"127.0.0.1:0\"\nlog-format = json\n" % (DB.url, p_file))
        for env, args, expected in (({}, [], p_file),
                                    ({"PSVC_HTTP_PORT": str(p_env)}, [], p_env),
                                    ({"PSVC_HTTP_PORT": str(p_env)}, ["--http-port", str(p_flag)],
                                     p_flag)):
            svc = Service(BINARY, None, ["--config", conf, *args], env=env)
            try:
                self.assertTrue(svc.http_url.endswith(":%d" % expected), (env, args, svc.http_url))
            finally:
                svc.stop()

    def test_database_url_may_come_from_the_file(self):
        conf = self.write("database-url = %s\nhttp-port = 0\ngrpc-address = 127.0.0.1:0\n"
                          "pool-size = 3\n" % DB.url)
        proc = subprocess.Popen([BINARY, "serve", "--config", conf], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True,
                                env={k: v for k, v in os.environ.items()
                                     if k not in ("DATABASE_URL", "NATS_URL")})
        try:
            lines = []
            for _ in range(5):  # start-up warnings come first
                lines.append(proc.stdout.readline())
                if "HTTP on" in lines[-1]:
                    break
            self.assertIn("HTTP on", lines[-1], lines)
        finally:
            proc.stdout.close()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)

    def test_bad_values_name_the_setting_and_where_it_came_from(self):
        conf = self.write("database-url = %s\n\npool-size = 0\n" % DB.url)
        r = self.run_serve(["--config", conf])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("pool-size (config file %s line 3)" % conf, r.stderr)

        r = self.run_serve(["--database-url", DB.url], env={"PSVC_POOL_SIZE": "0"})
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--pool-size", r.stderr)
        self.assertIn("set by environment variable PSVC_POOL_SIZE", r.stderr)

        r = self.run_serve(["--database-url", DB.url, "--pool-size", "abc"])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("set by the command line", r.stderr)

        conf = self.write("database-url = %s\npool-sise = 4\n" % DB.url)
        r = self.run_serve(["--config", conf])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("line 2", r.stderr)
        self.assertIn("unknown setting 'pool-sise'", r.stderr)

        r = self.run_serve(["--http-port", "0"])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--database-url", r.stderr)

    def test_secrets_are_not_repeated_in_errors(self):
        secret = "short-secret"  # too short to be a token: refused at start-up
        conf = self.write("database-url = %s\nauth-tokens = %s\nhttp-port = 0\n"
                          "grpc-address = 127.0.0.1:0\n" % (DB.url, secret))
        r = self.run_serve(["--config", conf])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--auth-tokens", r.stdout + r.stderr)
        self.assertNotIn(secret, r.stdout + r.stderr)


if __name__ == "__main__":
    if not BINARY:
        raise SystemExit("usage: ops_test.py BINARY")
    with ServiceDatabase(BINARY, "ops") as database:
        DB = database
        result = unittest.main(verbosity=2, exit=False).result
    sys.exit(0 if result.wasSuccessful() else 1)
