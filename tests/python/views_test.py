"""Page views through a real serve process: what SIGTERM's drain and the flush timer persist.

- SIGTERM: with a flush interval far longer than the test, nothing is written while views
  arrive; after SIGTERM the process exits 0 and the database holds every view it answered.
- kill -9 after the timer flushed: views written by a periodic flush survive a crash (the
  documented loss bound is what arrived after the last flush).
Usage: views_test.py <postgres-service binary>
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from service_process import Service, ServiceDatabase, parse_metrics  # noqa: E402

BINARY = sys.argv.pop(1) if len(sys.argv) > 1 else ""
ANIME = "00000000-0000-4000-8000-000000000002"


def record_view(svc, anime_id):
    body = json.dumps({"query": 'mutation { recordView(animeId: "%s") { viewCount } }'
                       % anime_id}).encode()
    req = urllib.request.Request(svc.http_url + "/graphql", data=body, method="POST",
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        doc = json.loads(r.read().decode())
    return "errors" not in doc and doc["data"]["recordView"]["viewCount"] > 0


def stored_views(db):
    out = subprocess.run(["psql", db.owner_url, "-XAtc",
                          "SELECT view_count FROM anime WHERE id = '%s'" % ANIME],
                         check=True, capture_output=True, text=True).stdout
    return int(out.strip())


def wait_until(check, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def send_views(svc, threads=4, per_thread=200):
    answered = [0] * threads

    def client(i):
        for _ in range(per_thread):
            if record_view(svc, ANIME):
                answered[i] += 1

    ts = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(answered)


class ViewsTest(unittest.TestCase):
    def test_sigterm_drain_writes_every_answered_view(self):
        with ServiceDatabase(BINARY, "views_drain") as db:
            before = stored_views(db)
            svc = Service(BINARY, db.url, args=["--view-flush-ms", "60000"])
            answered = send_views(svc)
            self.assertEqual(answered, 800)
            self.assertEqual(stored_views(db), before)  # only the drain can have written them
            self.assertEqual(svc.stop(), 0)
            self.assertEqual(stored_views(db), before + answered)

    def test_views_flushed_by_the_timer_survive_kill_9(self):
        with ServiceDatabase(BINARY, "views_kill") as db:
            before = stored_views(db)
            svc = Service(BINARY, db.url, args=["--view-flush-ms", "100"])
            answered = send_views(svc, threads=2, per_thread=100)

            def pending():
                return parse_metrics(svc.get("/metrics")[2])["psvc_views_pending"]

            self.assertTrue(wait_until(lambda: pending() == 0))
            svc.proc.send_signal(signal.SIGKILL)
            svc.proc.wait()
            svc.stop()
            self.assertEqual(stored_views(db), before + answered)


if __name__ == "__main__":
    unittest.main()
