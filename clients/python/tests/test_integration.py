"""The client against a real `postgres-service serve` on the demo data (a database of its own
on the local stack). Needs PSVC_BINARY and the stack's environment (eval "$(scripts/stack env)").

Answers are checked against the demo catalogue as src/dataset/demo_data.sql writes it; the
prompt text against tests/expected/*.txt (UPDATE_EXPECTED=1 rewrites them after a reviewed
change of the rendering or of the server's answers, e.g. once the server sends labels).
"""
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "python"))

import postgres_graph_client as pgc  # noqa: E402
from service_process import ADMIN_URL, Service, free_port, psql  # noqa: E402

BINARY = os.environ.get("PSVC_BINARY", "")
TOKEN = "python-client-test-token-0123456789"


def anime(n):
    return "de0a0000-0000-4000-8000-%012d" % n


def company(n):
    return "de0b0000-0000-4000-8000-%012d" % n


def character(n):
    return "de0c0000-0000-4000-8000-%012d" % n


def work(n):
    return "de0f0000-0000-4000-8000-%012d" % n


FMA, SHAMBALLA, FMAB = anime(1), anime(2), anime(3)
AOT = [anime(n) for n in range(4, 10)]  # season 1 .. final season part 2, a SEQUEL chain
BEBOP, BEBOP_MOVIE, FRIEREN = anime(17), anime(18), anime(28)
BONES = company(1)
# Labels as the demo catalogue writes them (title, type, year) and its studio's name.
LABEL = {FMA: pgc.NodeLabel("Fullmetal Alchemist", "TV", 2003),
         SHAMBALLA: pgc.NodeLabel("Fullmetal Alchemist: The Conqueror of Shamballa", "MOVIE",
                                  2005),
         FMAB: pgc.NodeLabel("Fullmetal Alchemist: Brotherhood", "TV", 2009),
         BEBOP: pgc.NodeLabel("Cowboy Bebop", "TV", 1998),
         BEBOP_MOVIE: pgc.NodeLabel("Cowboy Bebop: Tengoku no Tobira", "MOVIE", 2001)}
AOT_TITLES = ["Shingeki no Kyojin", "Shingeki no Kyojin Season 2", "Shingeki no Kyojin Season 3",
              "Shingeki no Kyojin Season 3 Part 2", "Shingeki no Kyojin: The Final Season",
              "Shingeki no Kyojin: The Final Season Part 2"]
AOT_YEARS = [2013, 2017, 2018, 2019, 2021, 2022]
BONES_HUB = pgc.Hub(BONES, "studio", "Bones")
NOT_IN_CATALOGUE = "de0a0000-0000-4000-8000-00000000ffff"

DB = SERVICE = None


class DemoDatabase:
    """A migrated database with the demo data, served as the least-privileged role."""

    def __init__(self):
        self.name = "psvc_test_pyclient_%d" % os.getpid()
        self.owner_url = ADMIN_URL.rsplit("/", 1)[0] + "/" + self.name
        self.url = self.owner_url.replace("psvc_owner@", "psvc_app@")
        psql(ADMIN_URL, "-c", "DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.name)
        psql(ADMIN_URL, "-c", "CREATE DATABASE %s" % self.name)
        for command in ("migrate", "demo-data"):
            subprocess.run([BINARY, command, "--database-url", self.owner_url], check=True,
                           stdout=subprocess.DEVNULL)

    def drop(self):
        # A stopped serve's backends (role psvc_app, which the owner may not terminate) can
        # outlive it for a moment: retry until they are gone.
        for attempt in range(50):
            try:
                psql(ADMIN_URL, "-c", "DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.name)
                return
            except subprocess.CalledProcessError:
                if attempt == 49:
                    raise
                time.sleep(0.1)


STARTED = []  # every serve of the module, so none outlives it when a test fails midway


def serve(*args, port=0):
    svc = Service(BINARY, None, ["--database-url", DB.url, "--grpc-address",
                                 "127.0.0.1:%d" % port, "--http-port", "0", *args])
    STARTED.append(svc)
    return svc


def setUpModule():
    global DB, SERVICE
    if not BINARY or not ADMIN_URL:
        raise unittest.SkipTest("needs PSVC_BINARY and the local stack (scripts/stack env)")
    DB = DemoDatabase()
    # The SQL engine: the deadline tests hold a lock its statements wait on, and a change token
    # is answered from the primary at once (the memory engine's wait is tested on its own serve).
    SERVICE = serve("--graph-engine", "sql")


def tearDownModule():
    for svc in STARTED:
        if svc.proc.poll() is None:
            svc.stop()
    if DB:
        DB.drop()


def run(coroutine):
    return asyncio.run(coroutine)


# What the demo catalogue (src/dataset/demo_data.sql) implies for Brotherhood's ALTERNATIVE and
# same_studio neighbours: relation edges first, one entry per neighbour (the relation wins over
# the studio for FMA), the studio's other anime nearest in year first (2005, 2001).
FMAB_INTENT = {"query_type": "neighbors", "start_node_id": FMAB,
               "edge_types": ["ALTERNATIVE", "same_studio"]}
FMAB_NEIGHBORS = (pgc.Neighbor(FMA, "ALTERNATIVE", None, LABEL[FMA]),
                  pgc.Neighbor(SHAMBALLA, "same_studio", BONES_HUB, LABEL[SHAMBALLA]),
                  pgc.Neighbor(BEBOP_MOVIE, "same_studio", BONES_HUB, LABEL[BEBOP_MOVIE]))


class Primitives(unittest.TestCase):
    """Every primitive through the executor, sync and asyncio, with the same answers."""

    @classmethod
    def setUpClass(cls):
        cls.executor = pgc.PostgresGraphExecutor(SERVICE.grpc_address)

    @classmethod
    def tearDownClass(cls):
        cls.executor.close()

    def both(self, intent):
        """The sync answer, after checking the asyncio executor gives the same."""
        result = self.executor.execute(intent)

        async def async_answer():
            async with pgc.AsyncPostgresGraphExecutor(SERVICE.grpc_address) as ex:
                return await ex.execute(intent)
        self.assertEqual(run(async_answer()), result)
        return result

    def assertPrompt(self, result, name):
        path = os.path.join(HERE, "expected", name + ".txt")
        text = result.to_prompt() + "\n"
        if os.environ.get("UPDATE_EXPECTED"):
            with open(path, "w") as f:
                f.write(text)
        with open(path) as f:
            self.assertEqual(text, f.read(), "prompt text of %s" % name)

    def test_neighbors(self):
        r = self.both(FMAB_INTENT)
        self.assertTrue(r.data.start_found)
        self.assertEqual(r.data.start_label, LABEL[FMAB])
        self.assertEqual(r.data.neighbors, FMAB_NEIGHBORS)
        self.assertEqual((r.limits.max_results, r.clamped), (50, ()))
        self.assertPrompt(r, "neighbors_brotherhood")
        # All edge types: the same three anime (Shamballa shares studio, characters and
        # manga with it; which of those edges is reported is the server's rule).
        every = self.both({"query_type": "neighbors", "start_node_id": FMAB})
        self.assertEqual(every.data.neighbors[0], FMAB_NEIGHBORS[0])
        self.assertEqual(every.node_ids()[1:], [SHAMBALLA, BEBOP_MOVIE])
        self.assertIn(every.data.neighbors[1].edge_type,
                      ("same_studio", "co_appears", "adapted_from"))
        studio = self.both({"query_type": "neighbors", "start_node_id": FMAB,
                            "edge_types": ["SAME_STUDIO"]})
        # Every other Bones anime, nearest in year first (2005, 2003, 2001).
        self.assertEqual(studio.data.neighbors,
                         tuple(pgc.Neighbor(x, "same_studio", BONES_HUB, LABEL[x])
                               for x in (SHAMBALLA, FMA, BEBOP_MOVIE)))

    def test_zero_results_and_unknown_nodes_are_answers(self):
        r = self.both({"query_type": "neighbors", "start_node_id": FMAB, "edge_types": "sequel"})
        self.assertTrue(r.is_empty and r.data.start_found)
        self.assertPrompt(r, "neighbors_brotherhood_sequel_none")
        r = self.both({"query_type": "k_hop", "start_node_id": NOT_IN_CATALOGUE})
        self.assertTrue(r.is_empty)
        self.assertFalse(r.data.start_found)
        r = self.both({"query_type": "path", "start_node_id": FMAB, "end_node_id": FRIEREN})
        self.assertFalse(r.data.found)
        self.assertTrue(r.data.from_found and r.data.to_found)
        self.assertPrompt(r, "path_brotherhood_frieren_none")

    def test_k_hop_follows_the_sequel_chain_and_reports_clamping(self):
        r = self.both({"query_type": "k_hop", "start_node_id": AOT[0], "edge_types": ["Sequel"],
                       "max_hops": 9, "max_results": 100})
        self.assertEqual([(n.node_id, n.depth, n.parent_id, n.edge_type) for n in r.data.nodes],
                         [(AOT[i], i, AOT[i - 1], "SEQUEL") for i in range(1, 6)])
        self.assertEqual(r.data.start_label, pgc.NodeLabel(AOT_TITLES[0], "TV", AOT_YEARS[0]))
        self.assertEqual([n.label for n in r.data.nodes],
                         [pgc.NodeLabel(AOT_TITLES[i], "TV", AOT_YEARS[i]) for i in range(1, 6)])
        self.assertEqual(r.clamped, ("max_hops", "max_results"))
        self.assertEqual((r.limits.max_hops, r.limits.max_results), (5, 50))
        self.assertFalse(r.data.truncated)
        self.assertPrompt(r, "k_hop_attack_on_titan_clamped")
        short = self.both({"query_type": "k_hop", "start_node_id": AOT[0],
                           "edge_types": ["SEQUEL"], "max_hops": 5, "max_results": 2})
        self.assertEqual([n.node_id for n in short.data.nodes], AOT[1:3])
        self.assertTrue(short.data.truncated)
        self.assertEqual(short.clamped, ())

    def test_path_is_a_chain_through_the_studio(self):
        r = self.both({"query_type": "path", "start_node_id": FMAB, "end_node_id": BEBOP})
        # Brotherhood -> the Bebop movie (both Bones) -> Cowboy Bebop (the movie is a side
        # story of the series: seen from the movie, the series is its FULL_STORY).
        self.assertEqual(r.data.steps, (
            pgc.PathStep(FMAB, None, None, LABEL[FMAB]),
            pgc.PathStep(BEBOP_MOVIE, "same_studio", BONES_HUB, LABEL[BEBOP_MOVIE],
                         "Fullmetal Alchemist: Brotherhood (TV, 2009) shares studio Bones with "
                         "Cowboy Bebop: Tengoku no Tobira (MOVIE, 2001)"),
            pgc.PathStep(BEBOP, "FULL_STORY", None, LABEL[BEBOP],
                         "Cowboy Bebop: Tengoku no Tobira (MOVIE, 2001) \u2192 FULL_STORY \u2192 "
                         "Cowboy Bebop (TV, 1998)")))
        self.assertEqual(r.node_ids(), [FMAB, BEBOP_MOVIE, BEBOP])
        self.assertPrompt(r, "path_brotherhood_bebop")

    def test_compare(self):
        r = self.both({"query_type": "compare", "start_node_id": FMA, "end_node_id": FMAB})
        d = r.data
        self.assertEqual((d.a.title, d.b.title),
                         ("Fullmetal Alchemist", "Fullmetal Alchemist: Brotherhood"))
        self.assertEqual([(s.id, s.name) for s in d.shared_studios], [(BONES, "Bones")])
        self.assertEqual(sorted(s.id for s in d.shared_characters),
                         [character(n) for n in (1, 2, 3, 4)])
        self.assertEqual([s.id for s in d.shared_original_works], [work(1)])
        self.assertEqual(d.direct_relations, ("ALTERNATIVE",))
        fields = {f.field: (f.a, f.b, f.equal) for f in d.fields}
        self.assertEqual(fields["year"], ("2003", "2009", False))
        self.assertEqual(fields["type"], ("TV", "TV", True))
        self.assertEqual(r.node_ids(), [FMA, FMAB])
        self.assertPrompt(r, "compare_fma_brotherhood")

    def test_the_server_refuses_a_malformed_id_naming_the_intent_key(self):
        for query_type, key in (("neighbors", "start_node_id"), ("path", "end_node_id")):
            intent = {"query_type": query_type, "start_node_id": FMAB, "end_node_id": None}
            intent[key] = "not-a-uuid"
            if query_type == "path":
                intent["start_node_id"] = FMAB
            with self.assertRaises(pgc.InvalidArgumentError) as ctx:
                self.executor.execute(intent)
            e = ctx.exception
            self.assertEqual((e.field, e.attempts), (key, 1))
            self.assertTrue(e.message.startswith(key + ": not a UUID: 'not-a-uuid'"), e.message)

    def test_typed_clients_directly(self):
        with pgc.GraphClient(SERVICE.grpc_address, timeout=10) as client:
            self.assertEqual(client.neighbors(FMAB, ["ALTERNATIVE", 11]).neighbors,
                             FMAB_NEIGHBORS)
            self.assertEqual(client.k_hop(FMAB, max_hops=1).nodes[0].node_id, FMA)
            self.assertTrue(client.path(FMA, FMAB).found)
            self.assertTrue(client.compare(FMA, FMAB).a_found)

    def test_64_concurrent_calls_on_one_channel(self):
        # Twice the service's default --grpc-threads (32): gRPC refuses the calls beyond them
        # with RESOURCE_EXHAUSTED at once, and the client retries those until they are served.
        intents = [{"query_type": "neighbors", "start_node_id": anime(1 + i % 28)}
                   for i in range(64)]
        patient = pgc.RetryPolicy(max_attempts=50, initial_backoff=0.02, max_backoff=0.5)

        async def all_at_once():
            async with pgc.AsyncPostgresGraphExecutor(SERVICE.grpc_address, timeout=60,
                                                      retry=patient) as ex:
                return await asyncio.gather(*(ex.execute(i) for i in intents))
        answers = run(all_at_once())
        self.assertEqual(answers, [self.executor.execute(i) for i in intents])

    def test_agent_demo_prints_its_prompts(self):
        out = subprocess.run([sys.executable, os.path.join(HERE, "..", "examples",
                                                            "agent_demo.py"),
                              "--address", SERVICE.grpc_address], capture_output=True,
                             text=True, timeout=60, env=dict(os.environ, PSVC_TOKEN=""))
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("neighbors of Fullmetal Alchemist: Brotherhood (TV, 2009) [%s]; edge types "
                      "SEQUEL: none found" % FMAB, out.stdout)
        self.assertIn("shared studios: Bones [%s]" % BONES, out.stdout)
        self.assertIn("-FULL_STORY-> Cowboy Bebop (TV, 1998) [%s]" % BEBOP, out.stdout)
        self.assertIn("refused: edge_types[0]: unknown edge type 'sequels'", out.stdout)


class Deadlines(unittest.TestCase):
    """A deadline that expires while the server waits on the database: the call ends with
    DEADLINE_EXCEEDED, once (never retried)."""

    def setUp(self):
        # Holds a lock every graph read needs, until tearDown.
        self.locker = subprocess.Popen(["psql", DB.owner_url, "-X", "-q"], stdin=subprocess.PIPE,
                                       stdout=subprocess.DEVNULL, text=True)
        self.locker.stdin.write("BEGIN; LOCK TABLE anime IN ACCESS EXCLUSIVE MODE;\n")
        self.locker.stdin.flush()
        deadline = time.time() + 20
        while time.time() < deadline:
            held = subprocess.run(
                ["psql", DB.owner_url, "-X", "-At", "-c",
                 "SELECT count(*) FROM pg_locks WHERE relation = 'anime'::regclass "
                 "AND mode = 'AccessExclusiveLock' AND granted"],
                capture_output=True, text=True).stdout.strip()
            if held == "1":
                return
            time.sleep(0.05)
        self.fail("the lock was not taken")

    def tearDown(self):
        self.locker.stdin.write("ROLLBACK;\n\\q\n")
        self.locker.stdin.close()
        self.locker.wait(timeout=20)

    def test_sync_and_async(self):
        intent = {"query_type": "k_hop", "start_node_id": FMAB}
        with pgc.PostgresGraphExecutor(SERVICE.grpc_address, timeout=0.3) as ex:
            with self.assertRaises(pgc.DeadlineExceededError) as ctx:
                ex.execute(intent)
            self.assertEqual(ctx.exception.attempts, 1)
            with self.assertRaises(pgc.DeadlineExceededError):
                ex.execute(intent, timeout=0.2)  # a per-call deadline

        async def async_call():
            async with pgc.AsyncPostgresGraphExecutor(SERVICE.grpc_address) as ex:
                await ex.execute(intent, timeout=0.3)
        with self.assertRaises(pgc.DeadlineExceededError) as ctx:
            run(async_call())
        self.assertEqual(ctx.exception.code.name, "DEADLINE_EXCEEDED")


class ReadYourWrites(unittest.TestCase):
    """A write's change token (GraphQL updateAnime's changeToken) in a graph call: the answer
    includes the write, from a memory engine (which waits for it) and from SQL alike."""

    HAIKYUU = anime(20)
    TITLE = "Haikyuu!! Second Season"

    @classmethod
    def setUpClass(cls):
        cls.memory = serve("--graph-engine", "memory")
        deadline = time.time() + 60
        while time.time() < deadline:
            status, headers, _ = cls.memory.get("/readyz")
            if status == 200 and headers.get("X-Graph-Engine", "").startswith("memory"):
                return
            time.sleep(0.05)
        cls.memory.stop()
        raise AssertionError("the memory graph did not load:\n" + cls.memory.log())

    @classmethod
    def tearDownClass(cls):
        cls.memory.stop()

    def graphql(self, query, **variables):
        body = json.dumps({"query": query, "variables": variables}).encode()
        req = urllib.request.Request(self.memory.http_url + "/graphql", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            answer = json.loads(r.read())
        self.assertNotIn("errors", answer)
        return answer["data"]

    def rename(self, title):
        """Renames the anime through GraphQL; its change token."""
        version = self.graphql("query($id: ID!) { anime(id: $id) { version } }",
                               id=self.HAIKYUU)["anime"]["version"]
        data = self.graphql("mutation($id: ID!, $v: Int!, $t: String!) { updateAnime(id: $id, "
                            "expectedVersion: $v, input: {title: $t}) { changeToken } }",
                            id=self.HAIKYUU, v=version, t=title)
        token = data["updateAnime"]["changeToken"]
        self.assertTrue(token.isdigit(), token)
        return token

    def test_a_rename_is_in_the_answer_that_names_its_token(self):
        try:
            for i, svc in enumerate((self.memory, SERVICE)):
                title = "%s (renamed %d)" % (self.TITLE, i)
                token = self.rename(title)
                with pgc.GraphClient(svc.grpc_address, timeout=30) as client:
                    self.assertEqual(client.neighbors(self.HAIKYUU, min_change_token=token)
                                     .start_label.title, title)
                intent = {"query_type": "k_hop", "start_node_id": self.HAIKYUU,
                          "min_change_token": token}
                with pgc.PostgresGraphExecutor(svc.grpc_address, timeout=30) as ex:
                    self.assertEqual(ex.execute(intent).data.start_label.title, title)

                async def async_answer():
                    async with pgc.AsyncGraphClient(svc.grpc_address, timeout=30) as client:
                        return await client.neighbors(self.HAIKYUU, min_change_token=token)
                self.assertEqual(run(async_answer()).start_label.title, title)
        finally:
            self.rename(self.TITLE)

    def test_a_token_never_reached_fails_within_the_deadline(self):
        never = str(10 ** 15)  # far above any transaction id this cluster will issue soon
        # One attempt: a retry in the last few milliseconds could meet the client's own deadline.
        with pgc.GraphClient(self.memory.grpc_address, timeout=1.5, retry=pgc.NO_RETRY) as client:
            start = time.monotonic()
            with self.assertRaises(pgc.ChangeNotVisibleError) as ctx:
                client.neighbors(self.HAIKYUU, min_change_token=never)
            self.assertLess(time.monotonic() - start, 10)
        self.assertEqual(ctx.exception.field, "min_change_token")
        self.assertIn("change token " + never, ctx.exception.message)
        # The SQL engine reads the primary and never waits.
        with pgc.GraphClient(SERVICE.grpc_address, timeout=10) as client:
            self.assertTrue(client.neighbors(self.HAIKYUU, min_change_token=never).start_found)


class BearerToken(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.svc = serve("--auth-tokens", TOKEN, "--read-auth")

    @classmethod
    def tearDownClass(cls):
        cls.svc.stop()

    def test_sync_and_async(self):
        intent = FMAB_INTENT
        with pgc.PostgresGraphExecutor(self.svc.grpc_address) as ex:
            with self.assertRaises(pgc.UnauthenticatedError) as ctx:
                ex.execute(intent)
            self.assertIn("authorization: Bearer <token>", ctx.exception.message)
            self.assertEqual(ctx.exception.attempts, 1)
        with pgc.PostgresGraphExecutor(self.svc.grpc_address, token=TOKEN) as ex:
            self.assertEqual(ex.execute(intent).data.neighbors, FMAB_NEIGHBORS)

        async def async_call(token):
            async with pgc.AsyncPostgresGraphExecutor(self.svc.grpc_address, token=token) as ex:
                return await ex.execute(intent)
        self.assertEqual(run(async_call(TOKEN)).data.neighbors, FMAB_NEIGHBORS)
        with self.assertRaises(pgc.UnauthenticatedError):
            run(async_call("wrong-token-wrong-token"))


class Tls(unittest.TestCase):
    """TLS with a token, and mTLS where the client certificate stands in for the token."""

    @classmethod
    def setUpClass(cls):
        cls.pki = tempfile.mkdtemp(prefix="psvc-pyclient-pki-")
        subprocess.run(["bash", os.path.join(ROOT, "tests/tls/make_test_pki.sh"), cls.pki],
                       check=True)
        cls.svc = serve("--auth-tokens", TOKEN, "--read-auth", "--tls-cert", cls.p("server.pem"),
                        "--tls-key", cls.p("server.key"), "--tls-client-ca", cls.p("ca.pem"))

    @classmethod
    def tearDownClass(cls):
        cls.svc.stop()
        shutil.rmtree(cls.pki, ignore_errors=True)

    @classmethod
    def p(cls, name):
        return os.path.join(cls.pki, name)

    def call(self, tls, token=None, retry=pgc.NO_RETRY):
        with pgc.GraphClient(self.svc.grpc_address, tls=tls, token=token, retry=retry) as c:
            return c.neighbors(FMAB, FMAB_INTENT["edge_types"])

    def test_tls_with_a_token(self):
        tls = pgc.TlsOptions(ca_file=self.p("ca.pem"))
        self.assertEqual(self.call(tls, TOKEN).neighbors, FMAB_NEIGHBORS)
        with self.assertRaises(pgc.UnauthenticatedError):
            self.call(tls)

    def test_mtls_client_certificate_instead_of_a_token(self):
        tls = pgc.TlsOptions(ca_file=self.p("ca.pem"), cert_file=self.p("client.pem"),
                             key_file=self.p("client.key"), server_name="localhost")
        self.assertEqual(self.call(tls).neighbors, FMAB_NEIGHBORS)

        async def async_call():
            async with pgc.AsyncGraphClient(self.svc.grpc_address, tls=tls) as c:
                return await c.neighbors(FMAB, FMAB_INTENT["edge_types"])
        self.assertEqual(run(async_call()).neighbors, FMAB_NEIGHBORS)

    def test_plaintext_or_an_unknown_ca_cannot_connect(self):
        with self.assertRaises(pgc.UnavailableError):
            self.call(None, TOKEN)
        with self.assertRaises(pgc.UnavailableError):
            self.call(pgc.TlsOptions(ca_file=self.p("rogue-ca.pem")), TOKEN)


class ServerStopped(unittest.TestCase):
    """The service goes away mid-run: calls are retried, then end with a clear error; a
    service back within the deadline answers the retried call."""

    RETRY = pgc.RetryPolicy(max_attempts=3, initial_backoff=0.05, max_backoff=0.2)

    def test_retries_then_a_clear_error(self):
        port = free_port()
        svc = serve(port=port)
        address = "127.0.0.1:%d" % port
        intent = FMAB_INTENT
        with pgc.PostgresGraphExecutor(address, retry=self.RETRY) as ex:
            self.assertEqual(ex.execute(intent).data.neighbors, FMAB_NEIGHBORS)
            self.assertEqual(svc.stop(), 0)
            with self.assertRaises(pgc.UnavailableError) as ctx:
                ex.execute(intent)
        e = ctx.exception
        self.assertEqual(e.attempts, 3)
        self.assertTrue(e.message.startswith("graph service at %s unavailable: " % address),
                        e.message)
        self.assertTrue(e.message.endswith("(after 3 attempts)"), e.message)

        async def async_call():
            async with pgc.AsyncPostgresGraphExecutor(address, retry=self.RETRY) as ex:
                await ex.execute(intent)
        with self.assertRaises(pgc.UnavailableError) as ctx:
            run(async_call())
        self.assertEqual(ctx.exception.attempts, 3)

    def test_a_service_back_within_the_deadline_answers(self):
        port = free_port()
        address = "127.0.0.1:%d" % port
        pauses = []

        class Patient(pgc.RetryPolicy):
            def backoff(self, attempt, rng=None):
                pauses.append(attempt)
                return super().backoff(attempt)
        patient = Patient(max_attempts=1000, initial_backoff=0.05, max_backoff=0.25)
        started = {}

        def restart():
            time.sleep(0.5)  # the call below is retrying by now
            started["svc"] = serve(port=port)
        thread = threading.Thread(target=restart)
        with pgc.PostgresGraphExecutor(address, retry=patient, timeout=60) as ex:
            thread.start()
            try:
                result = ex.execute(FMAB_INTENT)
            finally:
                thread.join()
                if "svc" in started:
                    started["svc"].stop()
        self.assertGreater(len(pauses), 0, "the call was answered without a retry")
        self.assertEqual(result.data.neighbors, FMAB_NEIGHBORS)


if __name__ == "__main__":
    unittest.main()
