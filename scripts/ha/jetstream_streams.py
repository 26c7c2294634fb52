"""Creates the service's JetStream streams replicated across the NATS cluster.

Usage: jetstream_streams.py NATS_URLS REPLICAS

`serve` creates a missing stream with one replica and keeps an existing stream's replicas, so
the HA topology creates them first. Subjects and de-duplication windows match what `serve`
asks for (src/events/outbox_relay.h, src/cli/serve_command.cpp), or `serve` would rewrite them.
Idempotent: an existing stream with fewer replicas is scaled up.
"""
import sys
import time

from nats_wire import Connection, NatsError

HOUR_NS = 3600 * 10**9
STREAMS = [
    # name, subjects, duplicate window (ns; 0 = the server's default, 2 min)
    ("ANIME_CHANGES", ["anime.changes.>"], HOUR_NS),
    # Dead letters (anime.ingest.dlq) fall inside anime.ingest.> and so stay in this stream.
    ("ANIME_INGEST", ["anime.ingest.>"], 0),
]


def main():
    urls, replicas = sys.argv[1], int(sys.argv[2])
    deadline = time.time() + 60
    while True:  # the JetStream API answers once the cluster has a meta leader
        try:
            with Connection(urls) as nc:
                nc.js_api("INFO")
                ensure(nc, replicas)
            return
        except (NatsError, OSError) as e:
            if time.time() > deadline:
                raise SystemExit("jetstream_streams: %s" % e)
            time.sleep(0.5)


def ensure(nc, replicas):
    for name, subjects, dup in STREAMS:
        try:
            info = nc.js_api("STREAM.INFO." + name)
            cfg = info["config"]
            if cfg.get("num_replicas", 1) < replicas:
                cfg["num_replicas"] = replicas
                nc.js_api("STREAM.UPDATE." + name, cfg, timeout=10)
                print("jetstream_streams: %s scaled to %d replicas" % (name, replicas))
            continue
        except NatsError as e:
            if "stream not found" not in str(e):
                raise
        cfg = {"name": name, "subjects": subjects, "storage": "file", "retention": "limits",
               "num_replicas": replicas}
        if dup:
            cfg["duplicate_window"] = dup
        nc.js_api("STREAM.CREATE." + name, cfg, timeout=10)
        print("jetstream_streams: created %s x%d" % (name, replicas))


if __name__ == "__main__":
    main()
