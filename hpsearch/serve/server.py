"""The HTTP side of ``hpsearch serve``: read-only routes, safe headers, an optional token, bounded answers.

The standard library's ``ThreadingHTTPServer`` serves: pages are a few static files and JSON read from local
SQLite files, for one person's browser, so a framework would add a dependency and nothing it needs. Only GET
(and HEAD) exist: no route writes. Every answer carries a Content-Security-Policy that lets the pages run only
their own script files (no inline script, nothing from another origin), so a run's text can never run as code,
and the pages put text in with ``textContent`` only. Bound to a loopback address, the server answers only
requests whose Host is that address (a web page elsewhere cannot reach it by a DNS name that points here);
bound to another host, every request needs the token the server printed, in its URL once (the page then
keeps it in a same-site cookie).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
import secrets
import sys
import time
from collections.abc import Callable
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from hpsearch.core.errors import MissingDependencyError, RunError
from hpsearch.serve import extras, views
from hpsearch.serve.runs import Runs, is_running

STATIC = resources.files("hpsearch.serve") / "static"
#: The pages: a path's first segment -> its file in ``static/``.
PAGES = {"": "index.html", "run": "run.html", "trial": "trial.html", "compare": "compare.html"}
STATIC_FILES = ("app.js", "index.js", "run.js", "parcoords.js", "trial.js", "compare.js", "style.css")
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css"}
CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)  # plotly sets its own style attributes: styles may be inline, scripts never
COOKIE = "hpsearch_token"
_NUMBER = re.compile(r"-?[0-9]{1,15}")


def plotly_js() -> bytes:
    """plotly.js as the plotly package ships it (the ``serve`` extra); MissingDependencyError without it."""
    try:
        import plotly
    except ImportError:
        raise MissingDependencyError("plotly", "serve", "hpsearch serve") from None
    return (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Server(ThreadingHTTPServer):
    """A server of one runs folder. ``token`` is None on loopback, else what every request must show."""

    daemon_threads = True

    def __init__(self, runs_dir: Path, host: str = "127.0.0.1", port: int = 0, token: str | None = None) -> None:
        self.runs = Runs(runs_dir)
        self.token = token
        self.plotly = plotly_js()
        self.loopback = is_loopback(host)
        super().__init__((host, port), Handler)
        self.hosts = {f"{name}:{self.server_address[1]}" for name in ("127.0.0.1", "localhost", "[::1]", host)}

    @property
    def url(self) -> str:
        """The address to open, with the token when one is needed."""
        host, port = self.server_address[:2]
        shown = f"[{host}]" if ":" in str(host) else host
        return f"http://{shown}:{port}/" + (f"?token={quote(self.token)}" if self.token else "")


def serve(runs_dir: Path, host: str = "127.0.0.1", port: int = 8050) -> Server:
    """A server of ``runs_dir`` bound to ``host``:``port`` (0: a free port), with a fresh token unless loopback;
    call ``serve_forever`` on it, ``shutdown`` from another thread to stop."""
    return Server(runs_dir, host, port, None if is_loopback(host) else secrets.token_urlsafe(18))


class Handler(BaseHTTPRequestHandler):
    """One request: a page, a static file or a JSON answer; never a write."""

    server: Server
    server_version = "hpsearch"
    sys_version = ""

    def do_HEAD(self) -> None:  # noqa: N802 (http.server's name)
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802
        started, cpu = time.perf_counter(), time.thread_time()
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, max_num_fields=20).items()}
        if self.server.loopback and self.headers.get("Host") not in self.server.hosts:
            return self._send(421, b"wrong host\n", "text/plain")
        cookie = None
        if self.server.token is not None:
            given = query.get("token") or self._cookie()
            if not given or not hmac.compare_digest(given.encode(), self.server.token.encode()):
                return self._send(403, b"a token is needed: open the URL hpsearch serve printed\n", "text/plain")
            cookie = f"{COOKIE}={self.server.token}; HttpOnly; SameSite=Strict; Path=/"
        parts = [p for p in url.path.split("/") if p]
        try:
            status, body, kind = self._route(parts, query)
        except RunError as e:
            status, body, kind = 404, _json({"error": str(e)}), "application/json"
        except ValueError:
            status, body, kind = 400, _json({"error": "bad request"}), "application/json"
        except Exception as e:  # one bad request never stops the server; the page shows the line
            status, body, kind = 500, _json({"error": f"{type(e).__name__}: {e}"}), "application/json"
        self._send(status, body, kind, cookie, (time.perf_counter() - started, time.thread_time() - cpu))

    def _route(self, parts: list[str], query: dict[str, str]) -> tuple[int, bytes, str]:
        if parts[:1] == ["api"]:
            return 200, _json(self._api(parts[1:], query)), "application/json"
        if parts[:1] == ["static"] and len(parts) == 2:
            if parts[1] == "plotly.min.js":
                return 200, self.server.plotly, TYPES[".js"]
            if parts[1] in STATIC_FILES:
                return 200, (STATIC / parts[1]).read_bytes(), TYPES[Path(parts[1]).suffix]
        if (parts[0] if parts else "") in PAGES and len(parts) <= 3:
            return 200, (STATIC / PAGES[parts[0] if parts else ""]).read_bytes(), TYPES[".html"]
        return 404, b"not found\n", "text/plain"

    def _api(self, parts: list[str], query: dict[str, str]) -> Any:
        runs = self.server.runs
        if parts == ["runs"]:
            return views.runs_list(runs)
        if len(parts) < 2 or parts[0] != "run":
            raise RunError("no such endpoint")
        name, what = parts[1], parts[2:]
        read: Callable[..., Any]
        if not what:
            running = is_running(runs.folder(name))
            return runs.read(name, lambda store, cache: views.run_meta(store, cache, running))
        if what == ["trials"]:
            after, generation = _int(query, "after", 0), _int(query, "generation", 0)
            read = lambda store, cache: views.trials_after(store, cache, after, generation)  # noqa: E731
        elif what == ["leaderboard"]:
            options = dict(
                page=_int(query, "page", 0),
                size=_int(query, "size", 50),
                sort=query.get("sort", "rank"),
                descending=query.get("desc") == "1",
                status=query.get("status") or None,
                round_=_int(query, "round", None),
                param=query.get("param") or None,
                low=_float(query, "lo"),
                high=_float(query, "hi"),
            )
            read = lambda store, cache: views.leaderboard_page(store, cache, **options)  # noqa: E731
        elif what == ["importance"]:
            read = views.importance_json
        elif what == ["rungs"]:
            read = extras.rungs_json
        elif what == ["confirm"]:
            read = lambda store, cache: {"confirmation": extras.confirm_json(store, cache)}  # noqa: E731
        elif what == ["curves"]:
            ids = [int(t) for t in query.get("trials", "").split(",")[: views.MAX_CURVES] if _NUMBER.fullmatch(t)]
            read = lambda store, cache: views.curves(store, cache, ids)  # noqa: E731
        elif len(what) == 2 and what[0] == "trial" and _NUMBER.fullmatch(what[1]):
            read = lambda store, cache: extras.trial_with_command(store, cache, int(what[1]))  # noqa: E731
        else:
            raise RunError("no such endpoint")
        answer = runs.read(name, read)
        if answer is None:
            raise RunError(f"run {name!r} has no such trial")
        return answer

    def _cookie(self) -> str | None:
        jar = SimpleCookie()
        try:
            jar.load(self.headers.get("Cookie", ""))
        except Exception:  # a malformed cookie header is no token
            return None
        return jar[COOKIE].value if COOKIE in jar else None

    def _send(
        self, status: int, body: bytes, kind: str, cookie: str | None = None, seconds: tuple[float, float] = ()
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        # plotly.js is 4 MB and never changes while a server runs; everything else is live
        self.send_header("Cache-Control", "max-age=3600" if self.path == "/static/plotly.min.js" else "no-store")
        if seconds:  # the request's time in the server, and this thread's CPU time (steady on a loaded machine)
            self.send_header("Server-Timing", f"app;dur={seconds[0] * 1000:.1f}, cpu;dur={seconds[1] * 1000:.1f}")
        if cookie:
            self.send_header("Set-Cookie", cookie)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a request is not news; a failed one is told on stderr, escaped by ``repr``."""
        if len(args) >= 2 and str(args[1]).startswith("5"):
            sys.stderr.write(repr(format % args) + "\n")


def _json(value: Any) -> bytes:
    return json.dumps(value, allow_nan=False, separators=(",", ":")).encode()


def _int(query: dict[str, str], key: str, default: int | None) -> Any:
    text = query.get(key)
    if text is None or text == "":
        return default
    if not _NUMBER.fullmatch(text):
        raise ValueError(key)
    return int(text)


def _float(query: dict[str, str], key: str) -> float | None:
    text = query.get(key)
    return float(text) if text not in (None, "") else None
