"""The explorer's web server (Tornado): one page, its script and style, and a WebSocket per tab.

Safe by default: bound to 127.0.0.1; every request must carry the random token printed in the URL
(as Jupyter's); the Host header must name this server (a DNS-rebinding page sends its own name) and
a browser's Origin must be this server's. Each tab gets its own Session; a bad message is answered
with an error the page shows. When the last tab closes (and no other opens within ``linger``
seconds), or on Ctrl-C, the server stops: sockets closed, no thread left.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import secrets
import socket
import threading
import warnings
from collections.abc import Callable
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import tornado.httpserver
import tornado.netutil
import tornado.web
import tornado.websocket
from threadpoolctl import threadpool_limits

from ..errors import InputError
from .session import Session

MAX_MESSAGE = 64 * 1024  # bytes; the page's messages are a few hundred
MAX_FPS = 60  # frames per second at most while playing (each frame waits for the page's ack)
ACK_TIMEOUT = 1.0  # seconds a frame waits for the page to say it has drawn the previous one
AHEAD = 2  # frames sent ahead of the page's acks while playing
WILDCARDS = ("", "0.0.0.0", "::")
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
STATIC = {"app.js": "application/javascript", "style.css": "text/css"}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors {ancestors}; base-uri 'none'; form-action 'none'"
)
# in a notebook the page is framed by Jupyter's, served from this machine on some port (CSP has
# no syntax for an IPv6 host, so [::1] is not listed)
LOCAL_PAGES = "http://localhost:* http://127.0.0.1:*"


def asset(name: str) -> str:
    return (resources.files(__package__) / "static" / name).read_text("utf-8")


class Server:
    """The explorer on ``host:port`` (port 0: any free port).

    ``await serve()`` runs it until stopped; ``start()`` runs it in a background thread (tests,
    notebooks) and ``stop()`` ends it from any thread. ``url`` is the address to open.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        linger: float | None = 3.0,
        log: Callable[[str], None] | None = None,
        framed: bool = False,
    ) -> None:
        self.host, self.port = host, port
        self.framed = framed  # may pages from this machine show it in a frame (a notebook)?
        self.token = token or secrets.token_urlsafe(24)
        self.linger = linger  # None: keep running after the last tab closes
        self.log = log or (lambda line: None)
        self.sessions: list[Session] = []  # one per open tab, oldest first
        self.last_session: Session | None = None  # the newest tab's, kept after it closes
        self.connections: set[Channel] = set()
        self.opened = 0  # connections ever made
        self.stopped_because = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # -- addresses ---------------------------------------------------------------------
    @property
    def url(self) -> str:
        name = "127.0.0.1" if self.host in WILDCARDS else self.host
        if ":" in name and not name.startswith("["):
            name = f"[{name}]"
        return f"http://{name}:{self.port}/?token={self.token}"

    def host_ok(self, header: str | None) -> bool:
        """Is ``header`` (a Host header, or an Origin's netloc) this server's address?"""
        if not header:
            return False
        parts = urlsplit("//" + header)
        try:
            port = parts.port
        except ValueError:
            return False
        name = (parts.hostname or "").lower()
        if port != self.port:
            return False
        bracketed = f"[{name}]" if ":" in name else name
        if bracketed in LOOPBACK or name == self.host.strip("[]").lower():
            return True
        if self.host in WILDCARDS:  # reachable by any of this machine's addresses
            try:
                ipaddress.ip_address(name)
                return True
            except ValueError:
                return name in (socket.gethostname().lower(), socket.getfqdn().lower())
        return False

    def origin_ok(self, origin: str | None) -> bool:
        if origin is None:  # not a browser's cross-site request; the token still guards it
            return True
        parts = urlsplit(origin)
        return parts.scheme == "http" and self.host_ok(parts.netloc)

    def token_ok(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token.encode(), self.token.encode())

    # -- running -----------------------------------------------------------------------
    def app(self) -> tornado.web.Application:
        return tornado.web.Application(
            [
                (r"/", Page, {"server": self}),
                (r"/static/([a-z.]+)", Static, {"server": self}),
                (r"/ws", Channel, {"server": self}),
            ],
            websocket_max_message_size=MAX_MESSAGE,
            log_function=self._log_request,
        )

    async def serve(self) -> None:
        """Listen, run until stop() or the last tab closes, then close every socket."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        with warnings.catch_warnings():
            # a failed bind leaves its socket to the garbage collector (inside Tornado)
            warnings.simplefilter("ignore", ResourceWarning)
            try:
                sockets, failure = tornado.netutil.bind_sockets(self.port, self.host or None), None
            except OSError as e:
                sockets, failure = [], e.strerror
        if failure is not None:
            raise InputError(
                f"cannot listen on {self.host}:{self.port} ({failure}); "
                "pick another --port, or 0 for any free one"
            )
        self.port = sockets[0].getsockname()[1]
        http = tornado.httpserver.HTTPServer(self.app())
        http.add_sockets(sockets)
        self._ready.set()
        # one BLAS thread: the products are small, and more threads only add overhead (3× on 2 cores)
        limits = threadpool_limits(1, user_api="blas")
        try:
            await self._stop.wait()
        finally:
            limits.restore_original_limits()
            http.stop()
            for channel in list(self.connections):
                channel.shutdown()
            # give open tabs a moment to answer the close, then cut what is left
            deadline = self._loop.time() + 1.0
            while self.connections and self._loop.time() < deadline:
                await asyncio.sleep(0.02)
            for channel in list(self.connections):
                channel.abort()
            await http.close_all_connections()
            self._ready.set()

    def stop(self, because: str = "stopped") -> None:
        """End serve() (thread-safe); with start(), wait for the thread to finish."""
        loop, event = self._loop, self._stop
        if loop is not None and event is not None and not loop.is_closed():
            if not self.stopped_because:
                self.stopped_because = because
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # the loop closed meanwhile
                pass
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(10)

    def start(self) -> Server:
        """serve() in a background thread; returns once it listens."""
        self._thread = threading.Thread(
            target=self._run_thread, name="twolayer-explore", daemon=True
        )
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run_thread(self) -> None:
        try:
            asyncio.run(self.serve())
        except BaseException as e:  # handed to start()
            self._error = e
        finally:
            self._ready.set()

    # -- tabs --------------------------------------------------------------------------
    def opened_channel(self, channel: Channel) -> None:
        self.connections.add(channel)
        self.sessions.append(channel.session)
        self.last_session = channel.session
        self.opened += 1

    def closed_channel(self, channel: Channel) -> None:
        self.connections.discard(channel)
        if channel.session in self.sessions:
            self.sessions.remove(channel.session)
        if not self.connections and self.linger is not None and self._loop is not None:
            self._loop.call_later(self.linger, self._stop_if_abandoned)

    def _stop_if_abandoned(self) -> None:
        if not self.connections and self._stop is not None:
            self.stopped_because = self.stopped_because or "the page was closed"
            self._stop.set()

    def _log_request(self, handler: tornado.web.RequestHandler) -> None:
        status = handler.get_status()
        if status >= 400:
            self.log(f"refused {handler.request.method} {handler.request.path} ({status})")


class Guarded(tornado.web.RequestHandler):
    """Host, Origin and token checked before anything is served."""

    def initialize(self, server: Server) -> None:
        self.server = server

    def prepare(self) -> None:
        s, headers = self.server, self.request.headers
        if not s.host_ok(headers.get("Host")):
            raise tornado.web.HTTPError(403, reason="Host not allowed")
        if not s.origin_ok(headers.get("Origin")):
            raise tornado.web.HTTPError(403, reason="Origin not allowed")
        if not s.token_ok(self.get_query_argument("token", None)):
            raise tornado.web.HTTPError(403, reason="missing or wrong token")

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("X-Content-Type-Options", "nosniff")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"{status_code} {self._reason}: open the URL that `twolayer explore` printed\n")


class Page(Guarded):
    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        ancestors = LOCAL_PAGES if self.server.framed else "'none'"
        self.set_header("Content-Security-Policy", CSP.format(ancestors=ancestors))
        self.finish(asset("index.html").replace("__TOKEN__", self.server.token))


class Static(Guarded):
    def get(self, name: str) -> None:
        if name not in STATIC:
            raise tornado.web.HTTPError(404)
        self.set_header("Content-Type", STATIC[name] + "; charset=utf-8")
        self.finish(asset(name))


class Channel(tornado.websocket.WebSocketHandler):
    """One tab's WebSocket: JSON messages in, frames and errors out."""

    def initialize(self, server: Server) -> None:
        self.server = server
        self.session = Session()
        self.playing = False
        self.acked = asyncio.Event()
        self.in_flight = 0  # frames sent while playing that the page has not acknowledged
        self.task: asyncio.Task | None = None

    def prepare(self) -> None:
        s = self.server
        if not s.host_ok(self.request.headers.get("Host")):
            raise tornado.web.HTTPError(403, reason="Host not allowed")
        if not s.token_ok(self.get_query_argument("token", None)):
            raise tornado.web.HTTPError(403, reason="missing or wrong token")

    def check_origin(self, origin: str) -> bool:
        return self.server.origin_ok(origin)

    def open(self, *args: Any, **kwargs: Any) -> None:
        self.server.opened_channel(self)
        self.guarded(self.greet)

    def greet(self) -> None:
        """What a new tab needs: settings and stages, the data, the first frame."""
        for message in (self.session.hello, self.session.points, self.session.frame):
            self.send(message())

    def on_close(self) -> None:
        self.playing = False
        self.server.closed_channel(self)

    def shutdown(self) -> None:
        self.playing = False
        if self.task is not None:
            self.task.cancel()
        self.close(1001, "server stopped")

    def abort(self) -> None:
        """Close the socket now, without waiting for the page's reply."""
        conn = self.ws_connection
        if conn is not None and conn.stream is not None:
            conn.stream.close()
        self.server.closed_channel(self)

    def send(self, message: dict[str, Any]) -> None:
        try:
            sent = self.write_message(json.dumps(message, allow_nan=False, default=_plain))
        except tornado.websocket.WebSocketClosedError:
            self.playing = False
            return
        sent.add_done_callback(_closed_meanwhile)

    def error(self, message: str) -> None:
        self.send({"type": "error", "message": message})

    def on_message(self, message: str | bytes) -> None:
        self.guarded(lambda: self.handle(parse(message)))

    def guarded(self, run: Callable[[], Any]) -> None:
        """run(); a mistake is answered on the page, never with a traceback."""
        try:
            run()
        except ValueError as e:
            self.error(str(e))
        except Exception as e:  # never a traceback: the page shows it, the terminal gets one line
            self.server.log(f"internal error: {type(e).__name__}: {e}")
            self.error(f"internal error: {type(e).__name__}: {e}")

    def handle(self, msg: dict[str, Any]) -> None:
        kind, s = msg["type"], self.session
        if kind == "ack":
            self.in_flight = max(0, self.in_flight - 1)
            self.acked.set()
            return
        if kind == "play":
            if not self.playing:
                self.playing = True
                self.task = asyncio.ensure_future(self.play())
            return
        if kind == "pause":
            self.playing = False
        elif kind in ("step", "epoch"):
            self.playing = False
            self.train(s.step if kind == "step" else s.run_epoch)
            return
        elif kind == "reset":
            self.playing = False
            s.reset(fresh=True)
        elif kind == "select":
            s.select(msg.get("index"))
        elif kind == "config":  # while playing, training goes on with the new settings
            if s.configure(msg.get("settings")) == "data":
                self.send(s.points())
        else:
            raise ValueError(f"unknown message type {kind!r}")
        self.send(s.frame())

    def train(self, run: Callable[[], None]) -> None:
        try:
            run()
        finally:  # a diverged step still shows where it got to
            self.send(self.session.frame())

    async def play(self) -> None:
        """Train and send frames while playing. Up to AHEAD frames may await the page's ack, so
        that the server computes the next frame while the page draws the last one."""
        loop, s = asyncio.get_running_loop(), self.session
        self.in_flight = 0
        try:
            while self.playing:
                start = loop.time()
                while self.in_flight >= AHEAD and self.playing:
                    self.acked.clear()
                    try:
                        await asyncio.wait_for(self.acked.wait(), ACK_TIMEOUT)
                    except asyncio.TimeoutError:
                        self.in_flight = 0  # the page is busy or gone: do not stall forever
                if not self.playing:
                    break
                try:
                    self.train(lambda: s.step(s.settings.steps_per_frame))
                except ValueError as e:
                    self.playing = False
                    self.error(str(e))
                    self.send({"type": "paused"})
                    break
                self.in_flight += 1
                await asyncio.sleep(max(0.0, 1 / MAX_FPS - (loop.time() - start)))
        except asyncio.CancelledError:
            pass


def parse(message: str | bytes) -> dict[str, Any]:
    """A message from the page: a JSON object with a string "type"; anything else is refused."""
    if isinstance(message, bytes):
        raise ValueError("binary messages are not understood; send JSON text")
    try:
        msg = json.loads(message)
    except ValueError:
        raise ValueError(f"a message is not JSON: {message[:60]!r}") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise ValueError('a message must be a JSON object with a "type" string')
    return msg


def _closed_meanwhile(sent: asyncio.Future) -> None:
    """A tab closed while a frame was on its way: nothing to do (and no traceback)."""
    if not sent.cancelled():
        sent.exception()


def _plain(v: Any) -> Any:
    """NumPy scalars as JSON."""
    return float(v)
