"""A real `postgres-service serve` process on free ports, on a database of its own.

Test drivers import this: `with ServiceDatabase(binary) as db: svc = Service(binary, db.url)`.
Needs the local stack's environment (eval "$(scripts/stack env)").
"""
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

ADMIN_URL = os.environ.get("PSVC_ADMIN_DATABASE_URL", "")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def psql(url, *args, stdin=None):
    env = dict(os.environ, PGOPTIONS="-c client_min_messages=error")
    subprocess.run(["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", *args], check=True,
                   input=stdin, text=True, stdout=subprocess.DEVNULL, env=env)


def drop_database(name):
    """Drops database `name`, retrying for up to 15 s: DROP ... WITH (FORCE) refuses to end
    sessions it may not signal (another role's, an autovacuum worker's), and such a session can
    still be there just after the test's servers exited; it goes away within moments."""
    deadline = time.monotonic() + 15
    while True:
        done = subprocess.run(
            ["psql", ADMIN_URL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
             "DROP DATABASE IF EXISTS %s WITH (FORCE)" % name],
            capture_output=True, text=True,
            env=dict(os.environ, PGOPTIONS="-c client_min_messages=error"))
        if done.returncode == 0:
            return
        print("retrying DROP DATABASE %s (%s)" % (name, done.stderr.strip()), flush=True)
        if time.monotonic() > deadline:
            raise RuntimeError("DROP DATABASE %s: %s" % (name, done.stderr))
        time.sleep(0.2)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServiceDatabase:
    """A fresh migrated database with the graph fixture; dropped on exit."""

    def __init__(self, binary, name):
        if not ADMIN_URL:
            raise SystemExit('start the stack: eval "$(scripts/stack env)"')
        self.name = "psvc_test_%s_%d" % (name, os.getpid())
        self.owner_url = ADMIN_URL.rsplit("/", 1)[0] + "/" + self.name
        self.url = self.owner_url.replace("psvc_owner@", "psvc_app@")  # served as in production
        self.binary = binary

    def __enter__(self):
        drop_database(self.name)
        psql(ADMIN_URL, "-c", "CREATE DATABASE %s" % self.name)
        subprocess.run([self.binary, "migrate", "--database-url", self.owner_url], check=True,
                       stdout=subprocess.DEVNULL)
        psql(self.owner_url, "-f", os.path.join(ROOT, "tests/python/graph_fixture.sql"))
        return self

    def __exit__(self, *exc):
        drop_database(self.name)


class Service:
    """`serve` with the given extra arguments; JSON logs kept in a file for inspection."""

    def __init__(self, binary, database_url, args=(), env=None, nats_url=None):
        """`database_url` None: the database URL and ports come from `args` (or a config file)."""
        self.log_file = tempfile.NamedTemporaryFile(prefix="psvc-serve-", suffix=".log",
                                                    delete=False)
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("PSVC_")}
        full_env.pop("NATS_URL", None)
        full_env.pop("DATABASE_URL", None)
        if nats_url:
            full_env["NATS_URL"] = nats_url
        full_env.update(env or {})
        cmd = [binary, "serve", "--log-format", "json"]
        if database_url:
            cmd += ["--database-url", database_url, "--grpc-address", "127.0.0.1:0",
                    "--http-port", "0"]
        cmd += list(args)
        self.proc = subprocess.Popen(cmd, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     env=full_env)
        deadline = time.time() + 20
        while time.time() < deadline:
            text = self.log()
            m = re.search(r"HTTP on (https?://[0-9.]+:[0-9]+).*gRPC on ([0-9.]+:[0-9]+)", text)
            if m:
                self.http_url, self.grpc_address = m.group(1), m.group(2)
                return
            if self.proc.poll() is not None:
                raise RuntimeError("serve exited with %s:\n%s" % (self.proc.returncode, text))
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("serve did not start in 20 s:\n" + self.log())

    def log(self):
        with open(self.log_file.name, errors="replace") as f:
            return f.read()

    def rss_bytes(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def get(self, path, headers=None, timeout=5):
        """(status, headers, body) of an HTTP GET; errors are answers too."""
        req = urllib.request.Request(self.http_url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, dict(r.headers), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()
        os.unlink(self.log_file.name)
        return self.proc.returncode


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^{}]*\})? (-?[0-9.eE+-]+|\+Inf|NaN)$')


def parse_metrics(text):
    """{name{labels}: value}; raises on any line that is not valid exposition format."""
    samples, typed = {}, set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            name = line.split()[2]
            if name in typed:
                raise ValueError("TYPE twice for " + name)
            typed.add(name)
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ValueError("invalid exposition line: %r" % line)
        samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return samples
