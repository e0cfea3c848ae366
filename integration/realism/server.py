"""The HTTP side: accepts envctl's requests, serves the admin endpoints under
/realism/, runs each request through the rules and forwards it unchanged to
moto (bodies read in full, chunked uploads de-chunked, every end-to-end
header kept), then lets the rules rewrite the answer."""

import http.client
import json
import random
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .config import Config
from .moto_reads import MotoReads
from .request import Request, Response
from .state import State, now
from .stats import Stats

HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
       "te", "trailer", "transfer-encoding", "upgrade", "expect", "content-length"}


class Context:
    """What every rule sees: settings, counters, the resource clock, moto
    reads and the seeded random source."""

    def __init__(self, moto_url, overrides):
        self.moto_url = moto_url
        self.initial = overrides
        self.cfg = Config(overrides)
        self.stats = Stats()
        self.state = State()
        self.moto = MotoReads(moto_url)
        self._rng = random.Random(self.cfg.get("seed"))
        self._rng_lock = threading.Lock()
        self.now = now

    def random(self):
        with self._rng_lock:
            return self._rng.random()

    def reseed(self):
        with self._rng_lock:
            self._rng = random.Random(self.cfg.get("seed"))

    def reset(self):
        self.cfg = Config(self.initial)
        self.stats.reset()
        self.state.reset()
        self.reseed()
        from .rules import throttle
        throttle.reset()


class Forwarder:
    """One keep-alive connection to moto per proxy thread."""

    def __init__(self, moto_url):
        u = urllib.parse.urlsplit(moto_url)
        self.host, self.port = u.hostname, u.port or 80
        self._local = threading.local()

    def _conn(self, fresh=False):
        """(connection, reused): a kept-alive connection, or a new one."""
        c = getattr(self._local, "conn", None)
        if c is not None and not fresh:
            return c, True
        if c is not None:
            c.close()
        c = http.client.HTTPConnection(self.host, self.port, timeout=120)
        self._local.conn = c
        return c, False

    def send(self, req):
        for attempt in (0, 1):
            conn, reused = self._conn(fresh=attempt == 1)
            try:
                conn.putrequest(req.method, req.target, skip_host=True, skip_accept_encoding=True)
                for k, v in req.headers:
                    if k.lower() not in HOP:
                        conn.putheader(k, v)
                if req.body or req.method in ("POST", "PUT", "PATCH"):
                    conn.putheader("Content-Length", str(len(req.body)))
                conn.endheaders(req.body if req.body else None)
                r = conn.getresponse()
                body = r.read()
                headers = [(k, v) for k, v in r.getheaders() if k.lower() not in HOP]
                if req.method == "HEAD" and r.getheader("content-length") is not None:
                    headers.append(("Content-Length", r.getheader("content-length")))
                if r.will_close:
                    conn.close()
                    self._local.conn = None
                return Response(r.status, headers, body, r.reason)
            except (http.client.HTTPException, OSError):
                # Only a kept-alive connection that moto had closed is retried
                # (the request never reached it); anything else is reported.
                self._local.conn = None
                if attempt == 1 or not reused:
                    raise
        raise RuntimeError("unreachable")


class Pipeline:
    def __init__(self, ctx, rules):
        self.ctx = ctx
        self.rules = rules  # [(name, module)] in before-order
        self.forwarder = Forwarder(ctx.moto_url)

    def run(self, req):
        ctx = self.ctx
        active = [(n, r) for n, r in self.rules if ctx.cfg.on(n)]
        for _, rule in active:
            before = getattr(rule, "before", None)
            if before:
                resp = before(ctx, req)
                if resp is not None:
                    return resp
        resp = self.forwarder.send(req)
        # Faults act last on the way back, after every rule has recorded the
        # side effect moto performed.
        for _, rule in active[1:] + active[:1]:
            after = getattr(rule, "after", None)
            if after:
                resp = after(ctx, req, resp) or resp
        return resp


def make_handler(ctx, pipeline):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "realism"

        def log_message(self, fmt, *args):
            pass

        def _read_body(self):
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                out = bytearray()
                while True:
                    line = self.rfile.readline()
                    size = int(line.split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return bytes(out)
                    out += self.rfile.read(size)
                    self.rfile.readline()
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def _send(self, resp):
            if resp.drop:
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            self.send_response(resp.status, resp.reason)
            has_len = False
            for k, v in resp.headers:
                if k.lower() == "content-length":
                    has_len = True
                self.send_header(k, v)
            if not has_len:
                self.send_header("Content-Length", str(len(resp.body)))
            self.end_headers()
            if self.command != "HEAD" and resp.body:
                self.wfile.write(resp.body)

        def _admin(self, body):
            path = urllib.parse.urlsplit(self.path).path
            headers = [("Content-Type", "application/json")]
            try:
                if path == "/realism/stats" and self.command == "GET":
                    out = ctx.stats.snapshot()
                elif path == "/realism/config" and self.command == "GET":
                    out = ctx.cfg.snapshot()
                elif path == "/realism/config" and self.command == "POST":
                    patch = json.loads(body or b"{}")
                    ctx.cfg.merge(patch)
                    if "seed" in patch:
                        ctx.reseed()
                    out = ctx.cfg.snapshot()
                elif path == "/realism/settle" and self.command == "POST":
                    seconds = float(json.loads(body or b"{}").get("seconds", 86400))
                    ctx.state.settle(seconds)
                    out = {"settled_seconds": seconds}
                elif path == "/realism/reset" and self.command == "POST":
                    ctx.reset()
                    out = {"reset": True}
                elif path == "/realism/health":
                    out = {"ok": True}
                else:
                    return self._send(Response(404, headers, b'{"error":"no such admin endpoint"}'))
            except (KeyError, ValueError) as e:
                return self._send(Response(400, headers, json.dumps({"error": str(e)}).encode()))
            self._send(Response(200, headers, json.dumps(out).encode()))

        def _any(self):
            body = self._read_body()
            if self.path.startswith("/realism/"):
                return self._admin(body)
            req = Request(self.command, self.path, list(self.headers.items()), body)
            try:
                resp = pipeline.run(req)
            except Exception as e:  # noqa: BLE001 - the proxy must answer something
                ctx.stats.bump("proxy.error")
                import traceback
                traceback.print_exc()
                resp = Response(502, [("Content-Type", "text/plain")], ("realism proxy: %s" % e).encode())
            self._send(resp)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _any

    return Handler


def serve(port, moto_url, overrides, rules):
    ctx = Context(moto_url, overrides)
    pipeline = Pipeline(ctx, rules)
    httpd = ThreadingHTTPServer(("127.0.0.1", port), make_handler(ctx, pipeline))
    httpd.daemon_threads = True
    httpd.serve_forever()
