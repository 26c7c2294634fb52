"""Hostile HTTP input against a real `postgres-service serve` process: every shape gets a
clear 4xx (or a GraphQL error), none takes the process down, ordinary requests keep being
answered, a request stuck in the queue gets its 503 at the queue timeout, and RSS stays
bounded after hundreds of hostile requests. CORS, when enabled, answers preflights.

Usage: hostile_input_test.py BINARY   (needs the local stack: eval "$(scripts/stack env)")
Prints the time each shape took (for reading, not asserted beyond a generous sanity bound).
"""
import http.client
import json
import os
import socket
import sys
import threading
import time
import unittest
import urllib.parse

from service_process import Service, ServiceDatabase

BINARY = sys.argv.pop(1) if len(sys.argv) > 1 else os.environ.get("PSVC_BINARY", "")
TOKEN = "hostile-test-token-0123456789"
ORIGIN = "https://app.example.com"
# RSS may grow by at most this over the hostile rounds (allocator caches, metrics series).
RSS_GROWTH_LIMIT = 96 << 20
# A 1 MiB body parses in milliseconds; quadratic parsing took seconds. Far above either, so
# the bound only catches a return of super-linear cost, never a busy machine.
SANE_SECONDS = 10
DB = None
SVC = None


def post(path, body, headers=None, timeout=30):
    """(status, headers, body, seconds) of a raw POST."""
    u = urllib.parse.urlparse(SVC.http_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    h = {"content-type": "application/json", "accept": "application/json"}
    h.update(headers or {})
    start = time.monotonic()
    conn.request("POST", path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read().decode(errors="replace")
    seconds = time.monotonic() - start
    conn.close()
    return r.status, dict(r.getheaders()), data, seconds


def request(method, path, headers=None, timeout=30):
    u = urllib.parse.urlparse(SVC.http_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    conn.request(method, path, headers=headers or {})
    r = conn.getresponse()
    data = r.read().decode(errors="replace")
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def authed(extra=None):
    h = {"authorization": "Bearer " + TOKEN}
    h.update(extra or {})
    return h


def wide_object(keys):
    """One object of `keys` distinct short keys, then the query (under 1 MiB)."""
    return ("{" + ",".join('"%x":0' % i for i in range(keys)) + ',"query":"{ __typename }"}').encode()


# name -> (body bytes, expected status, text the answer must contain)
def hostile_bodies():
    q = '"query":"{ __typename }"'
    shapes = {
        "arrays nested 160,000 deep": (
            ("{%s,\"variables\":{\"v\":" % q + "[" * 160000 + "]" * 160000 + "}}").encode(),
            400, "nests deeper than 64"),
        "objects nested 170,000 deep": (
            ("{%s,\"variables\":" % q + "{\"a\":" * 170000 + "1" + "}" * 170000 + "}").encode(),
            400, "nests deeper than 64"),
        "object with 100,000 distinct keys": (wide_object(100000), 400, "more than 20000 values"),
        "object with 100,000 copies of one key": (
            ("{" + ",".join('"k":%d' % i for i in range(100000)) + "," + q + "}").encode(),
            400, "more than 20000 values"),
        "variables with 60,000 distinct keys": (
            ("{%s,\"variables\":{" % q + ",".join('"v%d":null' % i for i in range(60000)) + "}}")
            .encode(), 400, "more than 20000 values"),
        "array of 400,000 numbers": (
            ("{%s,\"variables\":{\"v\":[" % q + ",".join("1" for _ in range(400000)) + "]}}")
            .encode(), 400, "more than 20000 values"),
        "array of 19,000 numbers (allowed)": (
            ("{%s,\"variables\":{\"v\":[" % q + ",".join("1" for _ in range(19000)) + "]}}")
            .encode(), 401, "credentials"),
        "string of 150,000 unicode escapes": (
            ("{%s,\"variables\":{\"v\":\"" % q + "\\u00e9" * 150000 + "\"}}").encode(),
            401, "credentials"),
        "junk after the document": (("{%s} xyz" % q).encode(), 400, "not valid JSON"),
        "two documents": (("{%s}{%s}" % (q, q)).encode(), 400, "not valid JSON"),
        "invalid UTF-8": (b'{"query":"{ __typename }","x":"\xff\xfe"}', 400, "not valid JSON"),
        "truncated": (('{%s,"variables":{"a":[1,2' % q).encode(), 400, "not valid JSON"),
        "not an object": (b'[1,2,3]', 400, "must be a JSON object"),
    }
    for name, (body, _, _) in shapes.items():
        assert len(body) <= 1 << 20, name  # the body limit is its own case
    return shapes


def oversized_body():
    """Content-Length over the 1 MiB limit: 413 before the body is read (so none is sent)."""
    u = urllib.parse.urlparse(SVC.http_url)
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        s.sendall(b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % ((1 << 20) + 1))
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1]), data.decode(errors="replace")


class HostileInput(unittest.TestCase):
    def ordinary_query_works(self):
        status, _, body, _ = post("/graphql", json.dumps({"query": "{ __typename }"}), authed())
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body), {"data": {"__typename": "Query"}})

    def test_each_shape_is_refused_clearly_and_the_service_keeps_serving(self):
        for name, (body, status, text) in hostile_bodies().items():
            with self.subTest(shape=name):
                got, _, answer, seconds = post("/graphql", body)
                print("  %-40s %7d bytes -> %d in %6.1f ms" % (name, len(body), got, seconds * 1000))
                self.assertEqual(got, status, answer[:300])
                self.assertIn(text, answer)
                self.assertLess(seconds, SANE_SECONDS)
                self.ordinary_query_works()

    def test_a_body_over_the_limit_is_413(self):
        status, answer = oversized_body()
        self.assertEqual(status, 413, answer)
        self.ordinary_query_works()

    def test_get_parameters_are_bounded_too(self):
        deep = urllib.parse.quote("[" * 2000 + "]" * 2000)
        for params, text in [
            ("query=%7B__typename%7D&variables=" + deep, "nests deeper than 64"),
            ("query=%7B__typename%7D&extensions=" + deep, "nests deeper than 64"),
            ("query=%7B__typename%7D&variables=%7B%7D%20x", "must be a JSON object"),
        ]:
            status, _, body = request("GET", "/graphql?" + params,
                                      authed({"accept": "application/json"}))
            self.assertEqual(status, 400, body)
            self.assertIn(text, body)
        self.ordinary_query_works()

    def test_a_nul_in_search_is_refused_not_cut(self):
        body = json.dumps({"query": 'query($q: String!) { search(query: $q) { matched } }',
                           "variables": {"q": "Full\u0000metal"}})
        status, _, answer, _ = post("/graphql", body, authed())
        self.assertEqual(status, 200, answer)
        doc = json.loads(answer)
        self.assertIsNone(doc.get("data"), answer)
        self.assertIn("query: contains a NUL character", doc["errors"][0]["message"])

    def test_rss_stays_bounded_over_hundreds_of_hostile_requests(self):
        shapes = list(hostile_bodies().values())
        self.ordinary_query_works()
        before = SVC.rss_bytes()
        for i in range(300):
            body, status, _ = shapes[i % len(shapes)]
            got, _, answer, _ = post("/graphql", body)
            self.assertEqual(got, status, answer[:200])
        after = SVC.rss_bytes()
        print("  RSS before %.1f MiB, after 300 hostile requests %.1f MiB"
              % (before / 2**20, after / 2**20))
        self.assertLess(after - before, RSS_GROWTH_LIMIT)
        self.ordinary_query_works()

    def test_wide_bodies_from_many_clients_do_not_starve_ordinary_queries(self):
        # Twelve clients send 100,000-key bodies back to back for a few seconds (refused with
        # 400 before authentication). Ordinary queries sent meanwhile are
        # answered (or turned away with 503 + Retry-After by the 1 s queue timeout), never
        # held for the length of the flood.
        wide = wide_object(100000)
        stop = time.monotonic() + 4
        counts = []

        def flood():
            n = 0
            while time.monotonic() < stop:
                status, _, _, _ = post("/graphql", wide)
                if status == 400:
                    n += 1
            counts.append(n)
        threads = [threading.Thread(target=flood) for _ in range(12)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        waits = []
        while time.monotonic() < stop - 0.5:
            status, _, _, seconds = post("/graphql", json.dumps({"query": "{ __typename }"}),
                                         authed())
            waits.append((status, round(seconds * 1000)))
        for t in threads:
            t.join()
        ms = sorted(m for _, m in waits)
        print("  flood: %d wide bodies answered 400; %d ordinary queries (%d answered 200), "
              "ms p50 %d max %d" % (sum(counts), len(waits), sum(1 for st, _ in waits if st == 200),
                                    ms[len(ms) // 2], ms[-1]))
        self.assertGreater(sum(counts), 0)
        self.assertTrue(waits)
        for status, ms in waits:
            self.assertIn(status, (200, 503))
            self.assertLess(ms, SANE_SECONDS * 1000)
        self.ordinary_query_works()

    def test_cors_preflight_and_headers(self):
        status, headers, _ = request("OPTIONS", "/graphql", {
            "origin": ORIGIN, "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type"})
        self.assertEqual(status, 204)
        self.assertEqual(headers.get("access-control-allow-origin"), ORIGIN)
        self.assertIn("POST", headers.get("access-control-allow-methods", ""))
        self.assertIn("authorization", headers.get("access-control-allow-headers", ""))
        status, headers, _ = request("OPTIONS", "/graphql", {
            "origin": "https://evil.example", "access-control-request-method": "POST"})
        self.assertEqual(status, 403)
        self.assertNotIn("access-control-allow-origin", headers)
        status, headers, _, _ = post("/graphql", json.dumps({"query": "{ __typename }"}),
                                     authed({"origin": ORIGIN}))
        self.assertEqual(status, 200)
        self.assertEqual({k.lower(): v for k, v in headers.items()}
                         .get("access-control-allow-origin"), ORIGIN)


def main():
    global DB, SVC
    if not BINARY:
        raise SystemExit("usage: hostile_input_test.py BINARY")
    with ServiceDatabase(BINARY, "hostile") as db:
        DB = db
        SVC = Service(BINARY, db.url, ["--auth-tokens", TOKEN, "--read-auth",
                                       "--http-threads", "4", "--http-queue-timeout-ms", "1000",
                                       "--cors-origins", ORIGIN])
        try:
            result = unittest.main(exit=False, verbosity=2).result
            alive = SVC.proc.poll() is None
        finally:
            code = SVC.stop()
        if not alive:
            print("serve died during the test (exit %s)" % code)
            sys.exit(1)
        sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
