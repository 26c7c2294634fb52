"""A minimal synchronous NATS client (protocol over a socket) for scripts and tests.

Debian 12 packages no Python NATS client; the HA scripts need only a few JetStream API calls
(create a stream with replicas, publish with Nats-Msg-Id, read a stream's messages back), all
of which are request/reply on `$JS.API.*` subjects. Not for production traffic.
"""
import json
import os
import socket
import time

CRLF = b"\r\n"


class NatsError(Exception):
    pass


class Connection:
    """One connection to the first reachable URL of `urls` (nats://host:port, comma-separated)."""

    def __init__(self, urls, timeout=5.0):
        last = None
        for url in urls.split(","):
            host, port = url.strip().replace("nats://", "").rsplit(":", 1)
            try:
                self.sock = socket.create_connection((host, int(port)), timeout=timeout)
                break
            except OSError as e:
                last = e
        else:
            raise NatsError("no NATS server reachable at %s: %s" % (urls, last))
        self.sock.settimeout(timeout)
        self.buf = b""
        self.sid = 0
        info = self._line()
        if not info.startswith(b"INFO "):
            raise NatsError("unexpected greeting %r" % info)
        self.sock.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,'
                          b'"no_responders":true,"protocol":1}' + CRLF + b"PING" + CRLF)
        self._expect_pong()
        self.inbox = "_INBOX.%s" % os.urandom(8).hex()
        self.sock.sendall(b"SUB %s.* 1" % self.inbox.encode() + CRLF)
        self.seq = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise NatsError("connection closed by the server")
        self.buf += chunk

    def _line(self):
        while CRLF not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(CRLF, 1)
        return line

    def _take(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _expect_pong(self):
        while True:
            line = self._line()
            if line == b"PONG":
                return
            if line.startswith(b"-ERR"):
                raise NatsError(line.decode())

    def _next_message(self, deadline):
        """(subject, headers dict, payload) of the next MSG/HMSG; None at the deadline."""
        while True:
            self.sock.settimeout(max(0.01, deadline - time.time()))
            try:
                line = self._line()
            except socket.timeout:
                return None
            if line == b"PING":
                self.sock.sendall(b"PONG" + CRLF)
                continue
            if line in (b"PONG", b"+OK") or line.startswith(b"INFO "):
                continue
            if line.startswith(b"-ERR"):
                raise NatsError(line.decode())
            parts = line.split()
            if parts[0] == b"MSG":
                size = int(parts[-1])
                return parts[1].decode(), {}, self._take(size)
            if parts[0] == b"HMSG":
                hsize, size = int(parts[-2]), int(parts[-1])
                raw = self._take(size)
                return parts[1].decode(), parse_headers(raw[:hsize]), raw[hsize:]
            raise NatsError("unexpected protocol line %r" % line)

    def subscribe(self, subject):
        """Core NATS subscription; its messages come from next_message."""
        self.sid += 1
        self.sock.sendall(("SUB %s %d" % (subject, self.sid + 1)).encode() + CRLF)

    def next_message(self, deadline):
        """(subject, headers, payload) of the next message of any subscription, or None."""
        return self._next_message(deadline)

    def publish(self, subject, payload, reply=None, headers=None):
        reply_part = (" " + reply) if reply else ""
        if headers:
            h = b"NATS/1.0\r\n" + b"".join(
                ("%s: %s\r\n" % (k, v)).encode() for k, v in headers.items()) + CRLF
            self.sock.sendall(("HPUB %s%s %d %d\r\n" % (subject, reply_part, len(h),
                                                         len(h) + len(payload))).encode()
                              + h + payload + CRLF)
        else:
            self.sock.sendall(("PUB %s%s %d\r\n" % (subject, reply_part, len(payload))).encode()
                              + payload + CRLF)

    def request(self, subject, payload=b"", headers=None, timeout=5.0):
        """One reply's (headers, payload); raises NatsError on timeout or no responders."""
        self.seq += 1
        reply = "%s.%d" % (self.inbox, self.seq)
        self.publish(subject, payload, reply, headers)
        deadline = time.time() + timeout
        while True:
            m = self._next_message(deadline)
            if m is None:
                raise NatsError("timeout waiting for a reply on " + subject)
            subj, hdrs, body = m
            if subj != reply:
                continue  # a late reply to an earlier request
            if hdrs.get("_status") == "503":
                raise NatsError("no responders for " + subject)
            return hdrs, body

    def js_api(self, name, body=None, timeout=5.0):
        """A JetStream API call ($JS.API.<name>) answered as JSON; raises on an API error."""
        _, reply = self.request("$JS.API." + name, json.dumps(body or {}).encode(), timeout=timeout)
        answer = json.loads(reply)
        if "error" in answer:
            raise NatsError("%s: %s" % (name, answer["error"]))
        return answer

    def js_publish(self, subject, payload, msg_id, timeout=5.0):
        """Publishes to a stream and waits for its ack: (stream seq, duplicate)."""
        _, reply = self.request(subject, payload, {"Nats-Msg-Id": msg_id}, timeout=timeout)
        answer = json.loads(reply)
        if "error" in answer:
            raise NatsError("publish %s: %s" % (subject, answer["error"]))
        return answer["seq"], answer.get("duplicate", False)

    def stream_messages(self, stream, timeout=10.0):
        """Every message of a stream in order, as (seq, subject, headers, payload): a short-lived
        ordered pull consumer, fetched in batches."""
        name = "read_%s" % os.urandom(6).hex()
        self.js_api("CONSUMER.CREATE.%s.%s" % (stream, name), {
            "stream_name": stream,
            "config": {"name": name, "deliver_policy": "all", "ack_policy": "none",
                       "inactive_threshold": 30_000_000_000, "mem_storage": True,
                       "num_replicas": 1}}, timeout=timeout)
        out = []
        try:
            while True:
                self.seq += 1
                reply = "%s.%d" % (self.inbox, self.seq)
                self.publish("$JS.API.CONSUMER.MSG.NEXT.%s.%s" % (stream, name),
                             json.dumps({"batch": 1000, "no_wait": True}).encode(), reply)
                got = 0
                deadline = time.time() + timeout
                while True:
                    m = self._next_message(deadline)
                    if m is None:
                        raise NatsError("timeout reading " + stream)
                    subj, hdrs, body = m
                    if subj == reply:  # a status: 404 no messages / 408 request done
                        break
                    # A stream message arrives under its own subject (reply: its ack subject).
                    out.append((len(out) + 1, subj, hdrs, body))
                    got += 1
                    if got == 1000:
                        break
                if got < 1000:
                    return out
        finally:
            try:
                self.js_api("CONSUMER.DELETE.%s.%s" % (stream, name), timeout=timeout)
            except NatsError:
                pass


def parse_headers(raw):
    lines = raw.decode(errors="replace").split("\r\n")
    out = {}
    status = lines[0].split()
    if len(status) > 1:
        out["_status"] = status[1]
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out
