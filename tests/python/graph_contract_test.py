"""Agent-side contract test: the Python Agent Service's view of PostgresGraphService.

Runs with Debian's /usr/bin/python3 + python3-grpcio against a running service loaded
with graph_fixture.sql. Stubs are generated from proto/ at test time (GRPC_STUBS_DIR).
"""
import os
import re
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.environ["GRPC_STUBS_DIR"])

import grpc  # noqa: E402
from anime.graph.v1 import graph_service_pb2 as pb  # noqa: E402
from anime.graph.v1 import graph_service_pb2_grpc as rpc  # noqa: E402


def U(n):
    return "00000000-0000-4000-8000-%012x" % n


class GraphContract(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.channel = grpc.insecure_channel(os.environ["GRPC_ADDRESS"])
        grpc.channel_ready_future(cls.channel).result(timeout=10)
        cls.stub = rpc.PostgresGraphServiceStub(cls.channel)

    def test_neighbors_both_directions_and_derived(self):
        r = self.stub.Neighbors(pb.NeighborsRequest(node_id=U(2)), timeout=5)
        self.assertTrue(r.start_found)
        self.assertEqual([(n.node_id, n.edge_type) for n in r.neighbors],
                         [(U(3), pb.EDGE_TYPE_SEQUEL), (U(1), pb.EDGE_TYPE_PREQUEL)])
        r = self.stub.Neighbors(pb.NeighborsRequest(node_id=U(1)), timeout=5)
        self.assertEqual([(n.node_id, n.edge_type, n.via_id) for n in r.neighbors],
                         [(U(2), pb.EDGE_TYPE_SEQUEL, ""),
                          (U(5), pb.EDGE_TYPE_SAME_STUDIO, U(0xaa))])
        only = self.stub.Neighbors(pb.NeighborsRequest(
            node_id=U(1), edge_types=[pb.EDGE_TYPE_SAME_STUDIO]), timeout=5)
        self.assertEqual([n.node_id for n in only.neighbors], [U(5)])

    def test_k_hop_depths_parents_and_clamping(self):
        r = self.stub.KHop(pb.KHopRequest(node_id=U(4), max_hops=100, max_results=3), timeout=5)
        self.assertEqual([(x.node_id, x.depth, x.parent_id) for x in r.results],
                         [(U(3), 1, U(4)), (U(2), 2, U(3)), (U(1), 3, U(2))])
        self.assertEqual(r.results[0].edge_type, pb.EDGE_TYPE_FULL_STORY)
        self.assertEqual(r.applied_limits.max_hops, 5)
        self.assertIn("max_hops", r.applied_limits.clamped)
        self.assertTrue(r.truncated)

    def test_path_across_derived_edges(self):
        r = self.stub.Path(pb.PathRequest(from_id=U(4), to_id=U(6)), timeout=5)
        self.assertTrue(r.found)
        self.assertEqual([s.node_id for s in r.steps], [U(4), U(3), U(2), U(1), U(5), U(6)])
        self.assertEqual([s.edge_type for s in r.steps][1:],
                         [pb.EDGE_TYPE_FULL_STORY, pb.EDGE_TYPE_PREQUEL, pb.EDGE_TYPE_PREQUEL,
                          pb.EDGE_TYPE_SAME_STUDIO, pb.EDGE_TYPE_CO_APPEARS])
        short = self.stub.Path(pb.PathRequest(from_id=U(4), to_id=U(6), max_hops=4), timeout=5)
        self.assertFalse(short.found)
        none = self.stub.Path(pb.PathRequest(from_id=U(1), to_id=U(7)), timeout=5)
        self.assertFalse(none.found)
        self.assertTrue(none.to_found)

    def test_compare(self):
        r = self.stub.Compare(pb.CompareRequest(a_id=U(1), b_id=U(2)), timeout=5)
        self.assertTrue(r.a_found and r.b_found)
        self.assertEqual(r.a.title, "One")
        self.assertEqual(list(r.direct_relations), [pb.EDGE_TYPE_SEQUEL])
        r = self.stub.Compare(pb.CompareRequest(a_id=U(5), b_id=U(1)), timeout=5)
        self.assertEqual([s.name for s in r.shared_studios], ["Studio S"])

    def label(self, msg):
        return (msg.title, msg.type, msg.year)

    def test_answers_carry_labels(self):
        # Neighbors: the start and every neighbour labelled; the studio named, no hub for a
        # relation.
        r = self.stub.Neighbors(pb.NeighborsRequest(node_id=U(1)), timeout=5)
        self.assertEqual(self.label(r.start), ("One", "TV", 2001))
        self.assertEqual([self.label(n.node) for n in r.neighbors],
                         [("Two", "TV", 2002), ("Five", "TV", 2005)])
        self.assertFalse(r.neighbors[0].HasField("via"))
        self.assertEqual((r.neighbors[1].via.kind, r.neighbors[1].via.name),
                         ("studio", "Studio S"))
        # Unknown type and year; an original work named by its title.
        r = self.stub.Neighbors(pb.NeighborsRequest(node_id=U(8)), timeout=5)
        self.assertEqual(self.label(r.start), ("Eight", "UNKNOWN", 0))
        self.assertEqual([(n.node_id, n.edge_type, self.label(n.node), n.via.kind, n.via.name)
                          for n in r.neighbors],
                         [(U(9), pb.EDGE_TYPE_ADAPTED_FROM, ("Nine", "TV", 2009),
                           "original work", "Original W")])
        # KHop: the start, each result.
        r = self.stub.KHop(pb.KHopRequest(node_id=U(4), max_hops=3, max_results=3), timeout=5)
        self.assertEqual(self.label(r.start), ("Four", "OVA", 2004))
        self.assertEqual([self.label(x.node) for x in r.results],
                         [("Three", "MOVIE", 2003), ("Two", "TV", 2002), ("One", "TV", 2001)])
        # Path: a label per step and one explanation per step after the first.
        r = self.stub.Path(pb.PathRequest(from_id=U(4), to_id=U(6)), timeout=5)
        self.assertEqual([s.node.title for s in r.steps],
                         ["Four", "Three", "Two", "One", "Five", "Six"])
        self.assertEqual([s.explanation for s in r.steps], [
            "",
            "Four (OVA, 2004) \u2192 FULL_STORY \u2192 Three (MOVIE, 2003)",
            "Three (MOVIE, 2003) \u2192 PREQUEL \u2192 Two (TV, 2002)",
            "Two (TV, 2002) \u2192 PREQUEL \u2192 One (TV, 2001)",
            "One (TV, 2001) shares studio Studio S with Five (TV, 2005)",
            "Five (TV, 2005) shares character Character C with Six (ONA, 2006)"])
        self.assertEqual((r.steps[5].via.kind, r.steps[5].via.name), ("character", "Character C"))
        # Not found: no start label.
        r = self.stub.Neighbors(pb.NeighborsRequest(node_id=U(999)), timeout=5)
        self.assertFalse(r.HasField("start"))

    def test_unknown_node_is_ok_and_empty(self):
        r = self.stub.KHop(pb.KHopRequest(node_id=U(999)), timeout=5)
        self.assertFalse(r.start_found)
        self.assertEqual(len(r.results), 0)

    def assertInvalid(self, call, request, field):
        with self.assertRaises(grpc.RpcError) as ctx:
            call(request, timeout=5)
        self.assertEqual(ctx.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn(field, ctx.exception.details())

    def test_invalid_arguments(self):
        s = self.stub
        self.assertInvalid(s.Neighbors, pb.NeighborsRequest(node_id="not-a-uuid"), "node_id")
        self.assertInvalid(s.Neighbors, pb.NeighborsRequest(node_id=""), "node_id")
        self.assertInvalid(s.Neighbors, pb.NeighborsRequest(node_id=U(1), edge_types=[99]),
                           "edge_types[0]")
        self.assertInvalid(s.Neighbors, pb.NeighborsRequest(node_id=U(1), limit=-1), "limit")
        self.assertInvalid(s.KHop, pb.KHopRequest(node_id=U(1), max_hops=-1), "max_hops")
        self.assertInvalid(s.KHop, pb.KHopRequest(node_id=U(1), max_fanout_per_hop=-1),
                           "max_fanout_per_hop")
        self.assertInvalid(s.Path, pb.PathRequest(from_id=U(1), to_id="x'; DROP TABLE anime;--"),
                           "to_id")
        self.assertInvalid(s.Compare, pb.CompareRequest(a_id=U(1)), "b_id")

    def test_truncated_protobuf_is_rejected(self):
        # A raw call with bytes that are not a valid NeighborsRequest.
        raw = self.channel.unary_unary(
            "/anime.graph.v1.PostgresGraphService/Neighbors",
            request_serializer=lambda b: b, response_deserializer=lambda b: b)
        with self.assertRaises(grpc.RpcError) as ctx:
            raw(b"\x0a\xff\x01abc", timeout=5)  # field 1, declared length 255, 3 bytes sent
        self.assertIn(ctx.exception.code(),
                      (grpc.StatusCode.INTERNAL, grpc.StatusCode.INVALID_ARGUMENT))


class Operations(unittest.TestCase):
    """Health, readiness and metrics of the same running service."""

    SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^{}]*\})? (-?[0-9.eE+-]+|\+Inf|NaN)$')

    def get(self, path):
        with urllib.request.urlopen(os.environ["HTTP_URL"] + path, timeout=5) as r:
            return r.status, r.read().decode()

    def test_health_and_readiness(self):
        self.assertEqual(self.get("/healthz")[0], 200)
        self.assertEqual(self.get("/readyz"), (200, "ready\n"))

    def test_readiness_and_metrics_name_the_graph_engine(self):
        engine = os.environ.get("GRAPH_ENGINE", "sql")
        with urllib.request.urlopen(os.environ["HTTP_URL"] + "/readyz", timeout=5) as r:
            self.assertTrue(r.headers["X-Graph-Engine"].startswith(engine + ";"),
                            r.headers["X-Graph-Engine"])
        samples = self.scrape()
        self.assertEqual(samples['psvc_graph_engine{engine="%s",reason="requested"}' % engine], 1)
        if engine == "memory":
            self.assertEqual(samples["psvc_graph_memory_nodes"], 9)
            self.assertGreater(samples["psvc_graph_memory_label_bytes"], 0)

    def test_grpc_health_check_speaks_the_standard_protocol(self):
        # Encoded by hand from the published grpc.health.v1 messages (not from our .proto), so
        # a drift from the standard fails here: HealthCheckRequest{service = 1 (string)},
        # HealthCheckResponse{status = 1 (enum): SERVING = 1}.
        channel = grpc.insecure_channel(os.environ["GRPC_ADDRESS"])

        def request(service):
            data = service.encode()
            return b"\x0a" + bytes([len(data)]) + data if data else b""

        check = channel.unary_unary("/grpc.health.v1.Health/Check",
                                    request_serializer=request,
                                    response_deserializer=lambda b: b)
        self.assertEqual(check("", timeout=5), b"\x08\x01")
        self.assertEqual(check("anime.graph.v1.PostgresGraphService", timeout=5), b"\x08\x01")
        self.assertEqual(check("anime.write.v1.PostgresWriteService", timeout=5), b"\x08\x01")
        with self.assertRaises(grpc.RpcError) as ctx:
            check("no.such.Service", timeout=5)
        self.assertEqual(ctx.exception.code(), grpc.StatusCode.NOT_FOUND)
        watch = channel.unary_stream("/grpc.health.v1.Health/Watch",
                                     request_serializer=request,
                                     response_deserializer=lambda b: b)
        with self.assertRaises(grpc.RpcError) as ctx:
            list(watch("", timeout=5))
        self.assertEqual(ctx.exception.code(), grpc.StatusCode.UNIMPLEMENTED)

    def scrape(self):
        """The /metrics exposition as {name{labels}: value}, checking its syntax."""
        status, text = self.get("/metrics")
        self.assertEqual(status, 200)
        samples = {}
        typed = set()
        for line in text.splitlines():
            if line.startswith("# HELP "):
                continue
            if line.startswith("# TYPE "):
                name = line.split()[2]
                self.assertNotIn(name, typed)
                typed.add(name)
                continue
            m = self.SAMPLE.match(line)
            self.assertIsNotNone(m, "invalid exposition line: %r" % line)
            samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
        return samples

    def test_metrics_are_valid_exposition_and_count_calls(self):
        channel = grpc.insecure_channel(os.environ["GRPC_ADDRESS"])
        stub = rpc.PostgresGraphServiceStub(channel)
        stub.Neighbors(pb.NeighborsRequest(node_id=U(1)), timeout=5)
        with self.assertRaises(grpc.RpcError):
            stub.Neighbors(pb.NeighborsRequest(node_id="bad"), timeout=5)
        method = "/anime.graph.v1.PostgresGraphService/Neighbors"
        # Calls are counted just after their status is sent, so the last one may trail its
        # reply by a moment: scrape until both are in (bounded).
        deadline = time.monotonic() + 5
        while True:
            samples = self.scrape()
            done = samples.get('psvc_grpc_request_duration_seconds_count{method="%s"}' % method, 0)
            if done >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertGreaterEqual(samples['psvc_grpc_requests_total{method="%s",code="OK"}' % method], 1)
        self.assertGreaterEqual(
            samples['psvc_grpc_requests_total{method="%s",code="INVALID_ARGUMENT"}' % method], 1)
        self.assertGreaterEqual(
            samples['psvc_grpc_request_duration_seconds_count{method="%s"}' % method], 2)
        self.assertIn('psvc_db_pool_connections{pool="read",state="idle"}', samples)
        self.assertGreater(samples["process_resident_memory_bytes"], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
