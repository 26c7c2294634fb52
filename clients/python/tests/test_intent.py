"""Unit tests of the client without a service: intent checks and mapping, errors, retries,
labels and prompt text. The retry tests use an in-process gRPC server that answers with
chosen statuses, since a real service cannot be made to return RESOURCE_EXHAUSTED on cue."""
import asyncio
import random
import tempfile
import time
import unittest
from concurrent import futures

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

import postgres_graph_client as pgc
from postgres_graph_client import _convert
from postgres_graph_client._proto import pb
from postgres_graph_client.errors import from_rpc_error
from postgres_graph_client.executor import GraphResult

A = "de0a0000-0000-4000-8000-000000000001"
B = "de0a0000-0000-4000-8000-000000000002"
C = "de0a0000-0000-4000-8000-000000000003"
H = "de0b0000-0000-4000-8000-000000000001"

# The edge vocabulary as the proto numbers it (proto/anime/graph/v1/graph_service.proto).
PROTO_EDGE_NUMBERS = {"SEQUEL": 1, "PREQUEL": 2, "SIDE_STORY": 3, "ALTERNATIVE": 4, "SUMMARY": 5,
                      "FULL_STORY": 6, "CHARACTER": 7, "SPIN_OFF": 8, "ADAPTATION": 9,
                      "OTHER": 10, "same_studio": 11, "co_appears": 12, "adapted_from": 13}


class RecordingClient(pgc.GraphClient):
    """A GraphClient whose calls are recorded and answered from `answers` (no network)."""

    def __init__(self, answers=None, error=None):
        super().__init__("127.0.0.1:9")  # never dialled: no call leaves this object
        self.calls, self.answers, self.error = [], answers or {}, error

    def _record(self, name, *args, **kwargs):
        self.calls.append((name, args, kwargs))
        if self.error:
            raise self.error
        return self.answers[name]

    def neighbors(self, *args, **kwargs):
        return self._record("neighbors", *args, **kwargs)

    def k_hop(self, *args, **kwargs):
        return self._record("k_hop", *args, **kwargs)

    def path(self, *args, **kwargs):
        return self._record("path", *args, **kwargs)

    def compare(self, *args, **kwargs):
        return self._record("compare", *args, **kwargs)


def limits(**kw):
    return pgc.AppliedLimits(**kw)


EMPTY = {
    "neighbors": pgc.NeighborsResult(A, True, (), limits(max_results=50, hub_window=10)),
    "k_hop": pgc.KHopResult(A, True, False, (), limits(max_hops=2, max_fanout_per_hop=20,
                                                       max_results=20, hub_window=10)),
    "path": pgc.PathResult(A, B, False, True, True, False, (), limits(max_hops=5, hub_window=10)),
    "compare": pgc.Comparison(A, B, False, False, None, None),
}


class IntentMapping(unittest.TestCase):
    def run_intent(self, intent, answers=EMPTY):
        client = RecordingClient(answers)
        result = pgc.PostgresGraphExecutor(client).execute(intent)
        return client.calls, result

    def assertRefused(self, intent, field, *words):
        client = RecordingClient(EMPTY)
        with self.assertRaises(pgc.IntentError) as ctx:
            pgc.PostgresGraphExecutor(client).execute(intent)
        self.assertEqual(client.calls, [], "a refused intent must not call the service")
        self.assertEqual(ctx.exception.field, field)
        self.assertIsNone(ctx.exception.code)
        self.assertEqual(ctx.exception.attempts, 0)
        for w in words:
            self.assertIn(w, ctx.exception.message)
        return ctx.exception

    def test_every_edge_type_spelling(self):
        self.assertEqual(pgc.EDGE_TYPES, tuple(PROTO_EDGE_NUMBERS))
        for name, number in PROTO_EDGE_NUMBERS.items():
            spellings = {name, name.lower(), name.upper(), name.title(), name.replace("_", "-"),
                         " %s " % name, "EDGE_TYPE_" + name.upper(), "edge_type_" + name.lower()}
            for spelling in spellings:
                calls, result = self.run_intent({"query_type": "neighbors", "start_node_id": A,
                                                 "edge_types": [spelling]})
                self.assertEqual(result.intent.edge_types, (name,), spelling)
                # The wire value, from the request the client builds.
                request = pgc.client.rq.neighbors(A, calls[0][1][1], 0)
                self.assertEqual(list(request.edge_types), [number], spelling)
            self.assertEqual(pgc.client.rq.edge_type_values([number]), [number])

    def test_a_single_edge_type_string_and_protocol_numbers_are_accepted(self):
        _, result = self.run_intent({"query_type": "k_hop", "start_node_id": A,
                                     "edge_types": "Same_Studio"})
        self.assertEqual(result.intent.edge_types, ("same_studio",))
        _, result = self.run_intent({"query_type": "k_hop", "start_node_id": A,
                                     "edge_types": [1, 13]})
        self.assertEqual(result.intent.edge_types, ("SEQUEL", "adapted_from"))

    def test_unknown_edge_types_are_refused_with_the_vocabulary(self):
        for bad in ("sequels", "", "studio", "EDGE_TYPE_UNSPECIFIED", "UNSPECIFIED", 0, 14, -1,
                    True, None, 1.0, ["SEQUEL"]):
            e = self.assertRefused({"query_type": "neighbors", "start_node_id": A,
                                    "edge_types": ["SEQUEL", bad]}, "edge_types",
                                   "edge_types[1]: unknown edge type", "same_studio",
                                   "no edge types for all")
            self.assertEqual(e.index, 1)
        self.assertRefused({"query_type": "compare", "start_node_id": A, "end_node_id": B,
                            "edge_types": ["SEQUEL"]}, "edge_types", "not used by compare")

    def test_query_type_spellings(self):
        for spelling, canonical in (("neighbors", "neighbors"), ("NEIGHBORS", "neighbors"),
                                    ("k_hop", "k_hop"), ("K-Hop", "k_hop"), ("khop", "k_hop"),
                                    (" Path ", "path"), ("compare", "compare")):
            ids = {"start_node_id": A}
            if canonical in ("path", "compare"):
                ids["end_node_id"] = B
            calls, result = self.run_intent(dict(query_type=spelling, **ids))
            self.assertEqual(result.query_type, canonical)
            self.assertEqual(calls[0][0], canonical)
        for bad in ("shortest_path", "", None, 3, "neighbours"):
            self.assertRefused({"query_type": bad, "start_node_id": A}, "query_type",
                               "neighbors, k_hop, path, compare")

    def test_calls_carry_the_intent(self):
        calls, _ = self.run_intent({"query_type": "neighbors", "start_node_id": " %s " % A,
                                    "max_results": 7})
        self.assertEqual(calls, [("neighbors", (A, ()), {"limit": 7, "timeout": None})])
        calls, _ = self.run_intent(pgc.GraphIntent("k_hop", A, edge_types=["sequel"],
                                                   max_hops=3, max_results=9,
                                                   max_fanout_per_hop=4))
        self.assertEqual(calls, [("k_hop", (A, ("SEQUEL",)), {
            "max_hops": 3, "max_results": 9, "max_fanout_per_hop": 4, "timeout": None})])
        calls, _ = self.run_intent({"query_type": "k_hop", "start_node_id": A})
        self.assertEqual(calls[0][2], {"max_hops": 0, "max_results": 0, "max_fanout_per_hop": 0,
                                       "timeout": None})
        calls, _ = self.run_intent({"query_type": "path", "start_node_id": A, "end_node_id": B,
                                    "max_hops": 2})
        self.assertEqual(calls, [("path", (A, B, ()), {"max_hops": 2, "timeout": None})])
        calls, _ = self.run_intent({"query_type": "compare", "start_node_id": A,
                                    "end_node_id": B})
        self.assertEqual(calls, [("compare", (A, B), {"timeout": None})])

    def test_a_change_token_goes_with_every_primitive(self):
        for query_type, ids in (("neighbors", (A,)), ("k_hop", (A,)), ("path", (A, B)),
                                ("compare", (A, B))):
            intent = {"query_type": query_type, "start_node_id": A, "min_change_token": "8812"}
            if len(ids) == 2:
                intent["end_node_id"] = B
            calls, result = self.run_intent(intent)
            self.assertEqual(calls[0][2]["min_change_token"], "8812", query_type)
            self.assertEqual(result.intent.min_change_token, "8812")
        # An int is written in decimal; None and "" ask for nothing (no keyword is passed).
        calls, result = self.run_intent({"query_type": "neighbors", "start_node_id": A,
                                         "min_change_token": 77})
        self.assertEqual(calls[0][2]["min_change_token"], "77")
        for none in (None, ""):
            calls, result = self.run_intent({"query_type": "neighbors", "start_node_id": A,
                                             "min_change_token": none})
            self.assertNotIn("min_change_token", calls[0][2])
            self.assertIsNone(result.intent.min_change_token)
        for bad in ("abc", "-5", " 12", "1.5", -1, 2.0, True, ["1"], "١٢"):
            self.assertRefused({"query_type": "k_hop", "start_node_id": A,
                                "min_change_token": bad}, "min_change_token",
                               "min_change_token: not a change token",
                               "pass the change_token a write returned")

    def test_the_wire_requests_carry_the_token(self):
        rq = pgc.client.rq
        self.assertEqual(rq.neighbors(A, (), 0, "5").min_change_token, "5")
        self.assertEqual(rq.k_hop(A, (), 0, 0, 0, 6).min_change_token, "6")
        self.assertEqual(rq.path(A, B, (), 0, "7").min_change_token, "7")
        self.assertEqual(rq.compare(A, B, "8").min_change_token, "8")
        self.assertEqual(rq.compare(A, B).min_change_token, "")
        with self.assertRaises(pgc.IntentError) as ctx:
            rq.neighbors(A, (), 0, "x")
        self.assertEqual(ctx.exception.field, "min_change_token")

    def test_bad_intents(self):
        self.assertRefused("neighbors of A", "query_type", "a dict")
        self.assertRefused({"query_type": "neighbors", "node": A}, "node", "not an intent key",
                           "start_node_id")
        self.assertRefused({"query_type": "k_hop"}, "start_node_id", "required for k_hop")
        self.assertRefused({"query_type": "path", "start_node_id": A}, "end_node_id",
                           "required for path")
        self.assertRefused({"query_type": "compare", "start_node_id": A, "end_node_id": 5},
                           "end_node_id", "an anime UUID")
        self.assertRefused({"query_type": "neighbors", "start_node_id": A, "end_node_id": B},
                           "end_node_id", "not used by neighbors")
        self.assertRefused({"query_type": "neighbors", "start_node_id": A, "max_hops": 2},
                           "max_hops", "not used by neighbors", "leave it out")
        self.assertRefused({"query_type": "path", "start_node_id": A, "end_node_id": B,
                            "max_results": 2}, "max_results", "not used by path")
        self.assertRefused({"query_type": "compare", "start_node_id": A, "end_node_id": B,
                            "max_hops": 1}, "max_hops", "not used by compare")
        self.assertRefused({"query_type": "k_hop", "start_node_id": A, "max_hops": -1},
                           "max_hops", "must not be negative", "maximum is 5")
        for bad in ("3", 2.5, True):
            self.assertRefused({"query_type": "k_hop", "start_node_id": A, "max_results": bad},
                               "max_results", "whole number from 1 to 50")

    def test_clamped_caps_are_named_as_the_intent_names_them(self):
        answers = dict(EMPTY, neighbors=pgc.NeighborsResult(
            A, True, (), limits(max_results=50, clamped=("limit",))), k_hop=pgc.KHopResult(
            A, True, False, (), limits(max_hops=5, max_fanout_per_hop=20, max_results=50,
                                       clamped=("max_hops", "max_results"))))
        _, result = self.run_intent({"query_type": "neighbors", "start_node_id": A,
                                     "max_results": 500}, answers)
        self.assertEqual(result.clamped, ("max_results",))
        self.assertIn("note: max_results was above the server's cap and was lowered to 50",
                      result.to_prompt())
        _, result = self.run_intent({"query_type": "k_hop", "start_node_id": A, "max_hops": 9,
                                     "max_results": 99}, answers)
        self.assertEqual(result.clamped, ("max_hops", "max_results"))
        _, result = self.run_intent({"query_type": "compare", "start_node_id": A,
                                     "end_node_id": B})
        self.assertEqual((result.clamped, result.limits), ((), None))

    def test_zero_results_are_a_result(self):
        for query_type in ("neighbors", "k_hop", "path", "compare"):
            ids = {"start_node_id": A}
            if query_type in ("path", "compare"):
                ids["end_node_id"] = B
            _, result = self.run_intent(dict(query_type=query_type, **ids))
            self.assertTrue(result.is_empty)
            self.assertEqual(result.node_ids(), [])
            self.assertTrue(result.to_prompt())

    def test_server_field_names_become_intent_keys(self):
        server = pgc.InvalidArgumentError("limit: must not be negative (got -1)",
                                          code=grpc.StatusCode.INVALID_ARGUMENT, field="limit")
        client = RecordingClient(error=server)
        with self.assertRaises(pgc.InvalidArgumentError) as ctx:
            pgc.PostgresGraphExecutor(client).execute({"query_type": "neighbors",
                                                       "start_node_id": A})
        self.assertEqual(ctx.exception.field, "max_results")
        self.assertEqual(ctx.exception.message, "max_results: must not be negative (got -1)")
        other = pgc.InvalidArgumentError("the database rejected a value",
                                         code=grpc.StatusCode.INVALID_ARGUMENT)
        client = RecordingClient(error=other)
        with self.assertRaises(pgc.InvalidArgumentError) as ctx:
            pgc.PostgresGraphExecutor(client).execute({"query_type": "path", "start_node_id": A,
                                                       "end_node_id": B})
        self.assertIs(ctx.exception, other)


class FakeRpcError(grpc.RpcError):
    def __init__(self, code, details):
        self._code, self._details = code, details

    def code(self):
        return self._code

    def details(self):
        return self._details


class Errors(unittest.TestCase):
    def test_status_messages_and_fields(self):
        e = from_rpc_error(FakeRpcError(grpc.StatusCode.INVALID_ARGUMENT,
                                        "edge_types[2]: unknown edge type 99; known: ..."), 1, "x")
        self.assertIsInstance(e, pgc.InvalidArgumentError)
        self.assertIsInstance(e, ValueError)
        self.assertEqual((e.field, e.index, e.attempts), ("edge_types", 2, 1))
        self.assertEqual(str(e),
                         "INVALID_ARGUMENT: edge_types[2]: unknown edge type 99; known: ...")
        e = from_rpc_error(FakeRpcError(grpc.StatusCode.UNAVAILABLE, "connection refused"), 3,
                           "127.0.0.1:1")
        self.assertIsInstance(e, pgc.UnavailableError)
        self.assertEqual(e.message, "graph service at 127.0.0.1:1 unavailable: connection "
                                    "refused (after 3 attempts)")
        self.assertIsNone(e.field)
        for code, cls in ((grpc.StatusCode.DEADLINE_EXCEEDED, pgc.DeadlineExceededError),
                          (grpc.StatusCode.RESOURCE_EXHAUSTED, pgc.ResourceExhaustedError),
                          (grpc.StatusCode.UNAUTHENTICATED, pgc.UnauthenticatedError),
                          (grpc.StatusCode.INTERNAL, pgc.GraphError)):
            e = from_rpc_error(FakeRpcError(code, "node_id: words"), 1, "x")
            self.assertIs(type(e), cls)
            self.assertIsNone(e.field)  # only INVALID_ARGUMENT names a request field
        self.assertEqual(from_rpc_error(FakeRpcError(grpc.StatusCode.INTERNAL, ""), 1, "x").message,
                         "internal")
        # The memory graph did not catch up with a change token: a retryable UNAVAILABLE of its
        # own kind, naming the field.
        e = from_rpc_error(FakeRpcError(grpc.StatusCode.UNAVAILABLE,
                                        "min_change_token: the memory graph has not caught up "
                                        "with change token 9"), 1, "x")
        self.assertIsInstance(e, pgc.ChangeNotVisibleError)
        self.assertIsInstance(e, pgc.UnavailableError)
        self.assertEqual(e.field, "min_change_token")

    def test_tls_options_are_checked(self):
        with self.assertRaises(pgc.GraphError) as ctx:
            pgc.TlsOptions(ca_file="/nonexistent/ca.pem").credentials()
        self.assertIn("ca_file: cannot read /nonexistent/ca.pem", ctx.exception.message)
        with self.assertRaises(pgc.GraphError) as ctx:
            pgc.TlsOptions(cert_file="c.pem").credentials()
        self.assertIn("go together", ctx.exception.message)
        with tempfile.NamedTemporaryFile(suffix=".pem") as f:
            f.write(b"not a certificate")
            f.flush()
            with self.assertRaises(pgc.GraphError) as ctx:
                pgc.GraphClient("127.0.0.1:1", tls=pgc.TlsOptions(ca_file=f.name))
            self.assertIn("is not a PEM file", ctx.exception.message)

    def test_settings_from_the_cli_environment(self):
        s = pgc.ClientSettings.from_env({"PSVC_GRPC_ADDRESS": "h:1", "PSVC_TOKEN": "t" * 16,
                                         "PSVC_TLS_CA": "ca.pem", "PSVC_TLS_CLIENT_CERT": "c.pem",
                                         "PSVC_TLS_CLIENT_KEY": "k.pem"})
        self.assertEqual((s.address, s.token, s.tls),
                         ("h:1", "t" * 16, pgc.TlsOptions("ca.pem", "c.pem", "k.pem")))
        self.assertEqual(s.metadata(), (("authorization", "Bearer " + "t" * 16),))
        s = pgc.ClientSettings.from_env({})
        self.assertEqual((s.address, s.token, s.tls, s.metadata()),
                         ("127.0.0.1:50051", None, None, None))
        opts = dict(pgc.ClientSettings(tls=pgc.TlsOptions(server_name="svc")).all_channel_options())
        self.assertEqual(opts["grpc.ssl_target_name_override"], "svc")


class ScriptedService:
    """An in-process gRPC server for PostgresGraphService whose Neighbors answers each call
    with the next status of a script (then OK), counting calls."""

    def __init__(self, script):
        self.script, self.calls = list(script), 0
        handler = grpc.method_handlers_generic_handler(
            "anime.graph.v1.PostgresGraphService",
            {"Neighbors": grpc.unary_unary_rpc_method_handler(
                self.neighbors, request_deserializer=pb.NeighborsRequest.FromString,
                response_serializer=pb.NeighborsResponse.SerializeToString)})
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        self.server.add_generic_rpc_handlers((handler,))
        self.address = "127.0.0.1:%d" % self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def neighbors(self, request, context):
        self.calls += 1
        if self.script:
            code = self.script.pop(0)
            context.abort(code, "scripted " + code.name)
        return pb.NeighborsResponse(start_found=True, neighbors=[
            pb.Edge(node_id=B, edge_type=pb.EDGE_TYPE_SEQUEL)])

    def stop(self):
        self.server.stop(None)


class Retries(unittest.TestCase):
    FAST = pgc.RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.05)

    def test_backoff_grows_with_full_jitter_up_to_the_bound(self):
        policy = pgc.RetryPolicy(initial_backoff=0.1, max_backoff=0.5, multiplier=2)
        rng = random.Random(7)
        for attempt, bound in ((1, 0.1), (2, 0.2), (3, 0.4), (4, 0.5), (9, 0.5)):
            pauses = [policy.backoff(attempt, rng) for _ in range(200)]
            self.assertTrue(all(0 <= p <= bound for p in pauses), attempt)
            self.assertGreater(max(pauses), bound * 0.8)  # jitter spreads over the range
            self.assertLess(min(pauses), bound * 0.2)

    def scripted(self, script, retry=FAST, **kwargs):
        service = ScriptedService(script)
        self.addCleanup(service.stop)
        client = pgc.GraphClient(service.address, retry=retry, **kwargs)
        self.addCleanup(client.close)
        return service, client

    def test_unavailable_and_resource_exhausted_are_retried(self):
        service, client = self.scripted([grpc.StatusCode.RESOURCE_EXHAUSTED,
                                         grpc.StatusCode.UNAVAILABLE])
        result = client.neighbors(A)
        self.assertEqual(service.calls, 3)
        self.assertEqual(result.neighbors, (pgc.Neighbor(B, "SEQUEL"),))

    def test_retries_stop_at_max_attempts_with_the_last_status(self):
        service, client = self.scripted([grpc.StatusCode.RESOURCE_EXHAUSTED] * 9)
        with self.assertRaises(pgc.ResourceExhaustedError) as ctx:
            client.neighbors(A)
        self.assertEqual((service.calls, ctx.exception.attempts), (4, 4))
        self.assertIn("scripted RESOURCE_EXHAUSTED (after 4 attempts)", str(ctx.exception))

    def test_invalid_argument_and_others_are_not_retried(self):
        for code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.DEADLINE_EXCEEDED,
                     grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAUTHENTICATED):
            service, client = self.scripted([code] * 3)
            with self.assertRaises(pgc.GraphError) as ctx:
                client.neighbors(A)
            self.assertEqual((service.calls, ctx.exception.code, ctx.exception.attempts),
                             (1, code, 1))

    def test_no_pause_runs_past_the_deadline(self):
        slow = pgc.RetryPolicy(max_attempts=10, initial_backoff=30, max_backoff=30)
        service, client = self.scripted([grpc.StatusCode.UNAVAILABLE] * 9, retry=slow)
        random.seed(1)  # the first pause, 30 s * U(0, 1), is 4 s with this seed
        started = time.monotonic()
        with self.assertRaises(pgc.UnavailableError) as ctx:
            client.neighbors(A, timeout=2)
        self.assertEqual(ctx.exception.attempts, 1)
        self.assertLess(time.monotonic() - started, 30)
        with self.assertRaises(pgc.DeadlineExceededError) as ctx:
            client.neighbors(A, timeout=0)
        self.assertEqual(ctx.exception.attempts, 0)

    def test_async_client_retries_the_same_way(self):
        service = ScriptedService([grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED])
        self.addCleanup(service.stop)

        async def run():
            async with pgc.AsyncGraphClient(service.address, retry=self.FAST) as client:
                first = await client.neighbors(A)
                service.script = [grpc.StatusCode.INVALID_ARGUMENT]
                with self.assertRaises(pgc.InvalidArgumentError):
                    await client.neighbors(A)
                with self.assertRaises(pgc.DeadlineExceededError):
                    await client.neighbors(A, timeout=-1)
                service.script = [grpc.StatusCode.UNAVAILABLE] * 9
                with self.assertRaises(pgc.UnavailableError) as ctx:
                    await client.neighbors(A)
                self.assertEqual(ctx.exception.attempts, 4)
            slow = pgc.RetryPolicy(max_attempts=10, initial_backoff=30, max_backoff=30)
            async with pgc.AsyncGraphClient(service.address, retry=slow) as client:
                service.script = [grpc.StatusCode.UNAVAILABLE] * 9
                random.seed(1)  # a pause far beyond the deadline: no second attempt
                with self.assertRaises(pgc.UnavailableError) as ctx:
                    await client.neighbors(A, timeout=2)
                self.assertEqual(ctx.exception.attempts, 1)
            return first
        first = asyncio.run(run())
        self.assertEqual(first.neighbors, (pgc.Neighbor(B, "SEQUEL"),))


def labelled_message_types():
    """Edge-like messages with label fields, as a server that sends labels would define them
    (the fields the renderer looks for), built at run time in a private pool."""
    f = descriptor_pb2.FileDescriptorProto(name="labelled_test.proto", package="labelled.test",
                                           syntax="proto3")
    T = descriptor_pb2.FieldDescriptorProto

    def message(name, fields):
        m = f.message_type.add(name=name)
        for number, (field_name, field_type, type_name) in enumerate(fields, 1):
            x = m.field.add(name=field_name, number=number, type=field_type,
                            label=T.LABEL_OPTIONAL)
            if type_name:
                x.type_name = ".labelled.test." + type_name

    message("Label", [("title", T.TYPE_STRING, None), ("type", T.TYPE_STRING, None),
                      ("year", T.TYPE_INT32, None)])
    message("HubLabel", [("kind", T.TYPE_STRING, None), ("name", T.TYPE_STRING, None)])
    message("FlatStep", [("node_id", T.TYPE_STRING, None), ("edge_type", T.TYPE_INT32, None),
                         ("via_id", T.TYPE_STRING, None), ("title", T.TYPE_STRING, None),
                         ("node_type", T.TYPE_STRING, None), ("year", T.TYPE_INT32, None),
                         ("via_kind", T.TYPE_STRING, None), ("via_name", T.TYPE_STRING, None),
                         ("explanation", T.TYPE_STRING, None)])
    message("NestedEdge", [("node_id", T.TYPE_STRING, None), ("edge_type", T.TYPE_INT32, None),
                           ("via_id", T.TYPE_STRING, None), ("label", T.TYPE_MESSAGE, "Label"),
                           ("via", T.TYPE_MESSAGE, "HubLabel")])
    message("Merged", [(name, T.TYPE_STRING, None) for name in (
        "merged_into", "from_merged_into", "to_merged_into", "a_merged_into", "b_merged_into")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    factory = message_factory.MessageFactory(pool)
    return {name: factory.GetPrototype(pool.FindMessageTypeByName("labelled.test." + name))
            for name in ("FlatStep", "NestedEdge", "Merged")}


class Labels(unittest.TestCase):
    def test_answers_without_labels_have_none(self):
        edge = pb.Edge(node_id=B, edge_type=pb.EDGE_TYPE_SAME_STUDIO, via_id=H)
        self.assertIsNone(_convert.node_label(edge))
        self.assertEqual(_convert.hub(edge), pgc.Hub(H))
        self.assertIsNone(_convert.hub(pb.Edge(node_id=B, edge_type=pb.EDGE_TYPE_SEQUEL)))

    def test_label_fields_are_used_when_the_server_sends_them(self):
        types = labelled_message_types()
        flat = types["FlatStep"](node_id=B, edge_type=11, via_id=H, title="Shamballa",
                                 node_type="MOVIE", year=2005, via_kind="studio",
                                 via_name="Bones", explanation="both made by Bones")
        self.assertEqual(_convert.node_label(flat), pgc.NodeLabel("Shamballa", "MOVIE", 2005))
        self.assertEqual(_convert.hub(flat), pgc.Hub(H, "studio", "Bones"))
        nested = types["NestedEdge"](node_id=C, edge_type=12, via_id=H)
        self.assertIsNone(_convert.node_label(nested))  # a label message that is not set
        nested.label.title, nested.label.year = "Brotherhood", 2009
        nested.via.kind, nested.via.name = "character", "Edward Elric"
        self.assertEqual(_convert.node_label(nested), pgc.NodeLabel("Brotherhood", None, 2009))
        self.assertEqual(_convert.hub(nested), pgc.Hub(H, "character", "Edward Elric"))

        request = pb.PathRequest(from_id=A, to_id=B)

        class Response:  # a PathResponse whose steps carry labels
            DESCRIPTOR = pb.PathResponse.DESCRIPTOR
            steps = [types["FlatStep"](node_id=A, title="Fullmetal Alchemist", node_type="TV",
                                       year=2003), flat]
            found = from_found = to_found = True
            from_merged_into = to_merged_into = ""
            truncated = False
            applied_limits = pb.AppliedLimits(max_hops=5, hub_window=10)
        data = _convert.path(request, Response)
        result = GraphResult("path", pgc.GraphIntent("path", A, B), data)
        self.assertEqual(result.to_prompt(), "\n".join([
            "path from [%s] to [%s]; max_hops 5: 1 hop" % (A, B),
            "Fullmetal Alchemist (TV, 2003) [%s] -same_studio via studio Bones [%s]-> "
            "Shamballa (MOVIE, 2005) [%s]" % (A, H, B),
            "1. both made by Bones"]))


class MergedIds(unittest.TestCase):
    """Servers that answer for the anime an id was merged into say so (merged_into fields);
    the client reports it when the field exists, and is None for servers without it."""

    def test_merged_into_is_read_and_noted(self):
        merged_type = labelled_message_types()["Merged"]

        class Response:  # a NeighborsResponse of a server with merged_into
            DESCRIPTOR = merged_type.DESCRIPTOR
            neighbors = [pb.Edge(node_id=B, edge_type=pb.EDGE_TYPE_SEQUEL)]
            start_found = True
            applied_limits = pb.AppliedLimits(max_results=50)
            merged_into = C
        data = _convert.neighbors(pb.NeighborsRequest(node_id=A), Response)
        self.assertEqual(data.merged_into, C)
        text = GraphResult("neighbors", pgc.GraphIntent("neighbors", A), data).to_prompt()
        self.assertEqual(text.splitlines()[-1], "note: [%s] was merged into [%s]; the answer "
                                                "is about [%s]" % (A, C, C))

        class PathResponse(Response):
            steps = []
            found, from_found, to_found, truncated = False, True, True, False
            merged_into = from_merged_into = ""
            to_merged_into = C
        data = _convert.path(pb.PathRequest(from_id=A, to_id=B), PathResponse)
        self.assertEqual((data.from_merged_into, data.to_merged_into), (None, C))
        text = GraphResult("path", pgc.GraphIntent("path", A, B), data).to_prompt()
        self.assertIn("note: [%s] was merged into [%s]" % (B, C), text)
        # Today's messages have no such field.
        plain = _convert.neighbors(pb.NeighborsRequest(node_id=A), pb.NeighborsResponse())
        self.assertIsNone(plain.merged_into)
        compared = pgc.Comparison(A, B, True, True, pgc.AnimeSummary(C, "Three"),
                                  pgc.AnimeSummary(B, "Two"), a_merged_into=C)
        text = GraphResult("compare", pgc.GraphIntent("compare", A, B), compared).to_prompt()
        self.assertIn("note: [%s] was merged into [%s]" % (A, C), text)


class PromptText(unittest.TestCase):
    """Rendering of hand-built answers; answers from a real service are in the integration
    tests."""

    def render(self, query_type, data, clamped=(), **intent):
        return GraphResult(query_type, pgc.GraphIntent(query_type, **intent), data,
                           clamped).to_prompt()

    def test_neighbors(self):
        data = pgc.NeighborsResult(A, True, (
            pgc.Neighbor(B, "SEQUEL", label=pgc.NodeLabel("Shamballa", "MOVIE", 2005)),
            pgc.Neighbor(C, "same_studio", pgc.Hub(H))), limits(max_results=50))
        self.assertEqual(self.render("neighbors", data, edge_types=("SEQUEL", "same_studio")),
                         "neighbors of [%s]; edge types SEQUEL, same_studio: 2 neighbors\n"
                         "1. SEQUEL -> Shamballa (MOVIE, 2005) [%s]\n"
                         "2. same_studio via studio [%s] -> [%s]" % (A, B, H, C))
        missing = pgc.NeighborsResult(A, False, (), limits(max_results=50))
        self.assertEqual(self.render("neighbors", missing),
                         "neighbors of [%s]: this anime is not in the catalogue" % A)

    def test_k_hop(self):
        data = pgc.KHopResult(A, True, True, (
            pgc.KHopNode(B, 1, "SEQUEL", A, label=pgc.NodeLabel("Two")),
            pgc.KHopNode(C, 2, "co_appears", B, pgc.Hub(H, name="Ed"))),
            limits(max_hops=2, max_fanout_per_hop=20, max_results=2))
        self.assertEqual(self.render("k_hop", data), "\n".join([
            "k_hop from [%s]; max_hops 2: 2 anime" % A,
            "1. depth 1: Two [%s] (SEQUEL of [%s])" % (B, A),
            "2. depth 2: [%s] (co_appears of Two via character Ed [%s])" % (C, H),
            "note: stopped at max_results 2; more anime lie within 2 hops"]))
        missing = pgc.KHopResult(A, False, False, (), limits(max_hops=2))
        self.assertEqual(self.render("k_hop", missing), "k_hop from [%s]; max_hops 2: this "
                                                        "anime is not in the catalogue" % A)

    def test_path(self):
        data = pgc.PathResult(A, C, True, True, True, False, (
            pgc.PathStep(A, None), pgc.PathStep(B, "SEQUEL"),
            pgc.PathStep(C, "adapted_from", pgc.Hub(H))), limits(max_hops=5))
        self.assertEqual(self.render("path", data), "\n".join([
            "path from [%s] to [%s]; max_hops 5: 2 hops" % (A, C),
            "[%s] -SEQUEL-> [%s] -adapted_from via original work [%s]-> [%s]" % (A, B, H, C)]))
        budget = pgc.PathResult(A, C, False, True, True, True, (), limits(max_hops=3))
        self.assertEqual(self.render("path", budget), "path from [%s] to [%s]; max_hops 3: no "
                         "path within 3 hops (the search stopped at its node budget before "
                         "proving there is none)" % (A, C))
        missing = pgc.PathResult(A, C, False, False, False, False, (), limits(max_hops=5))
        self.assertEqual(self.render("path", missing), "path from [%s] to [%s]; max_hops 5: "
                         "neither anime is in the catalogue" % (A, C))
        missing = pgc.PathResult(A, C, False, True, False, False, (), limits(max_hops=5))
        self.assertTrue(self.render("path", missing).endswith(": the to anime is not in the "
                                                              "catalogue"))

    def test_compare(self):
        a = pgc.AnimeSummary(A, "One", type="TV", year=2003)
        data = pgc.Comparison(A, B, True, False, a, None)
        self.assertEqual(self.render("compare", data),
                         "compare A One (TV, 2003) [%s] with B [%s]: B not in the catalogue"
                         % (A, B))


if __name__ == "__main__":
    unittest.main()
