"""The run page's HTTP server: standard library only, bound to 127.0.0.1, in a daemon thread.

It serves the page (Jinja2 templates shipped in ``polyface/runio/web``), a small JSON state
endpoint the page polls, PNGs rendered in memory from genomes, the detectors' view, and a
fixed list of the run folder's own files. Nothing else: no other path of the folder, no
path outside it, no request from another host name (a guard against DNS rebinding).
"""

from __future__ import annotations

import json
import os
import re
import stat
import threading
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from polyface.genome import Genome
from polyface.runio.live_view import detector_view, png_bytes, sprite_png

CSP = (
    "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
MAX_SERVED = 1 << 30  # the largest run file the page serves (an MP4 of a long run is well under it)
CHUNK = 1 << 16  # served files are streamed in pieces of this many bytes
FILES = re.compile(r"^(best\.(png|svg|pdf)|evolution\.(gif|mp4)|score\.svg|genome\.json)$")
ASSETS = {"/page.css": "text/css; charset=utf-8", "/page.js": "text/javascript; charset=utf-8",
          "/favicon.svg": "image/svg+xml"}
TYPES = {".png": "image/png", ".svg": "image/svg+xml", ".pdf": "application/pdf", ".gif": "image/gif",
         ".mp4": "video/mp4", ".json": "application/json"}
FRAME = re.compile(r"^/api/frame/(\d{1,9})\.(png|json)$")
POP = re.compile(r"^/api/pop/(\d{1,12})\.png$")
FRAME_PX, POP_SHOWN = 384, 32


class LiveError(ValueError):
    """The page cannot be served (port taken or out of range); one line for the user."""


class Source(Protocol):
    """What a page shows: a live run (``LiveState``) or a run folder (``RunReader``)."""

    folder: Path | None

    def meta(self) -> dict[str, Any]: ...
    def state(self, since_points: int, since_frames: int) -> dict[str, Any]: ...
    def frame(self, k: int) -> Genome | None: ...
    def population(self) -> tuple[int, list[Genome], Any] | None: ...  # generation, genomes, scores


def safe_file(root: Path | None, raw: str) -> Path | None:
    """The run folder's file named by the URL path part ``raw``, or None: only names in ``FILES``
    (so no '..', no slash, encoded or not), only regular files whose real path is in the folder."""
    if root is None:
        return None
    name = unquote(raw)
    if not FILES.match(name):
        return None
    try:
        real = (root / name).resolve(strict=True)
        inside = real.parent == root.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    return real if inside and real.is_file() else None


def existing_files(root: Path | None) -> list[str]:
    if root is None or not root.is_dir():
        return []
    names = ["best.png", "best.svg", "best.pdf", "evolution.gif", "evolution.mp4", "score.svg", "genome.json"]
    return [n for n in names if safe_file(root, n) is not None]


def render_page(meta: dict[str, Any]) -> bytes:
    """The page's HTML from the Jinja2 template, autoescaped."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("polyface.runio", "web"), autoescape=jinja2.select_autoescape(["html"])
    )
    return env.get_template("page.html").render(**meta).encode()


class _Cache:
    """A small LRU of rendered bytes."""

    def __init__(self, n: int = 96) -> None:
        self.n, self.items, self.lock = n, OrderedDict(), threading.Lock()

    def get(self, key, make):
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        value = make()
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.n:
                self.items.popitem(last=False)
        return value


class PageServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, source: Source, host: str = "127.0.0.1", port: int = 0) -> None:
        if not 0 <= port <= 65535:
            raise LiveError(f"option --port must be an integer in 0..65535, got {port}")
        try:
            super().__init__((host, port), Handler)
        except OSError as e:
            raise LiveError(f"option --port: cannot listen on {host}:{port} ({e.strerror or e})") from None
        self.source = source
        self.cache = _Cache()
        self.html = render_page(source.meta())
        self.hosts = {f"{h}:{self.port}" for h in (host, "127.0.0.1", "localhost", "[::1]")}
        self.thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.server_address[0]}:{self.port}/"

    def start(self) -> PageServer:
        self.thread = threading.Thread(target=self.serve_forever, name="polyface-page", daemon=True)
        self.thread.start()
        return self

    def handle_error(self, request, client_address) -> None:
        import sys

        err = sys.exc_info()[1]
        if not isinstance(err, (ConnectionError, TimeoutError)):  # a closed tab is not worth a line
            print(f"polyface: page: {type(err).__name__}: {err}", file=sys.stderr)

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class Handler(BaseHTTPRequestHandler):
    server: PageServer
    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds a connection may stay silent (request or keep-alive) before it is closed

    def log_message(self, *args) -> None:  # quiet: the terminal belongs to the run's progress line
        pass

    def _send(self, code: int, body: bytes, ctype: str, cache: bool = False) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "max-age=3600" if cache else "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, obj: Any) -> None:
        self._send(200, json.dumps(obj, separators=(",", ":")).encode(), "application/json")

    def _missing(self, code: int = 404) -> None:
        self._send(code, b"not found\n" if code == 404 else b"forbidden\n", "text/plain; charset=utf-8")

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        if self.headers.get("Host", "") not in self.server.hosts:
            return self._missing(403)
        url = urlsplit(self.path)
        path, query = url.path, parse_qs(url.query)
        src, cache = self.server.source, self.server.cache
        if path == "/":
            return self._send(200, self.server.html, "text/html; charset=utf-8")
        if path in ASSETS:
            body = resources.files("polyface.runio").joinpath("web", path[1:]).read_bytes()
            return self._send(200, body, ASSETS[path])
        if path == "/api/state":
            return self._json(src.state(_int(query, "p"), _int(query, "f")))
        if m := FRAME.match(path):
            k, kind = int(m.group(1)), m.group(2)
            g = src.frame(k)
            if g is None:
                return self._missing()
            if kind == "png":
                return self._send(200, cache.get(("f", k), lambda: png_bytes(g, FRAME_PX)), "image/png", cache=True)
            meta = src.meta()
            view = cache.get(("v", k), lambda: detector_view(g, meta["work_size"], meta["config"]))
            return self._json(view)
        if POP.match(path):  # the current population, best first; the number in the path only busts caches
            pop = src.population()
            if pop is None:
                return self._missing()
            gen, genomes, scores = pop
            best = sorted(range(len(genomes)), key=lambda i: -float(scores[i]))[:POP_SHOWN]
            body = cache.get(("p", gen), lambda: sprite_png([genomes[i] for i in best]))
            return self._send(200, body, "image/png")
        if path.startswith("/files/"):
            real = safe_file(src.folder, path[len("/files/"):])
            if real is None:
                return self._missing()
            return self._send_file(real, TYPES[real.suffix.lower()])
        return self._missing()

    def _send_file(self, path: Path, ctype: str) -> None:
        """Stream a run file in chunks: never whole in memory, only a regular file, at most
        ``MAX_SERVED`` bytes (a larger one is refused with 413)."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            return self._missing()
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                return self._missing()
            if st.st_size > MAX_SERVED:
                return self._send(413, b"file too large\n", "text/plain; charset=utf-8")
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(st.st_size))
            self.send_header("Content-Security-Policy", CSP)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if self.command == "HEAD":
                return None
            left = st.st_size
            while left > 0:  # at most the size stat gave: a file that grows meanwhile is cut there
                chunk = f.read(min(CHUNK, left))
                if not chunk:
                    break
                self.wfile.write(chunk)
                left -= len(chunk)
        return None


def _int(query: dict, key: str) -> int:
    try:
        return max(0, int(query.get(key, ["0"])[0]))
    except ValueError:
        return 0
