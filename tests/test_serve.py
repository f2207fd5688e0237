"""hpsearch serve without a browser: what it answers, what it refuses, and that it never writes or disturbs a run."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from hpsearch.cli.main import cli
from hpsearch.core.errors import MissingDependencyError
from hpsearch.serve.server import Server, serve
from hpsearch.storage.run_store import RunStore
from tests.conftest import write_tiny_config

pytest.importorskip("plotly", reason="hpsearch serve needs the serve extra (plotly)")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runs folder with one finished run of 8 trials, made once for the module."""
    folder = tmp_path_factory.mktemp("served")
    config = write_tiny_config(folder, trials=8)
    result = CliRunner().invoke(cli, ["run", str(config), "--runs-dir", str(folder / "runs")])
    assert result.exit_code == 0, result.output
    return folder / "runs"


@pytest.fixture
def runs(built: Path, tmp_path: Path) -> Path:
    """A fresh copy of the built runs folder."""
    copy = tmp_path / "runs"
    shutil.copytree(built, copy)
    return copy


@pytest.fixture
def server(runs: Path) -> Iterator[Server]:
    with running(Server(runs, "127.0.0.1", 0)) as started:
        yield started


class running:
    """A server answering on its own thread for the ``with`` block."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def __enter__(self) -> Server:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self.server

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def get(server: Server, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of a GET (errors included)."""
    port = server.server_address[1]
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def api(server: Server, path: str) -> dict:
    status, _, body = get(server, path)
    assert status == 200, body
    return json.loads(body)


def run_name(runs: Path) -> str:
    return next(p.name for p in runs.iterdir() if (p / "run.sqlite").is_file())


def folder_state(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and change time. Where a write-ahead log was left (by a reader
    of an older hpsearch, or a writer at work), SQLite readers mark their reads in its index, run.sqlite-shm (not
    the run's data): its time is left out."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, 0 if p.name.endswith("-shm") else p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file()
    }


def every_endpoint(server: Server, name: str, trial: int = 2) -> None:
    """Every page and every JSON answer about run ``name`` (``trial``: one of its trials) answers 200."""
    for path in ("/", f"/run/{name}", f"/trial/{name}/{trial}", "/static/app.js", "/static/plotly.min.js", "/api/runs"):
        assert get(server, path)[0] == 200, path
    for tail in ("", "/trials?after=0", "/leaderboard?size=3&page=1", "/importance", "/rungs", "/confirm"):
        api(server, f"/api/run/{name}{tail}")
    api(server, f"/api/run/{name}/trial/{trial}")
    api(server, f"/api/run/{name}/curves?trials={trial}")


def test_the_runs_list_says_status_trials_and_best(server: Server, runs: Path):
    answer = api(server, "/api/runs")
    (run,) = answer["runs"]
    assert run["name"] == run_name(runs) and run["status"] == "finished" and run["kind"] == "network"
    assert run["done"] == run["planned"] == 8 and run["label"] == "dev J"
    with RunStore.open(runs / run["name"], read_only=True) as store:
        best = min((t for t in store.trials() if t.status.value == "ok"), key=lambda t: t.dev_cost)
    assert run["best_trial"] == best.trial and run["best"] == best.dev_cost
    assert answer["unreadable"] == []


def test_the_leaderboard_pages_sorts_and_filters_through_every_trial(server: Server, runs: Path):
    name = run_name(runs)
    with RunStore.open(runs / name, read_only=True) as store:
        trials = store.trials()
    first, second = (api(server, f"/api/run/{name}/leaderboard?size=5&page={p}") for p in (0, 1))
    assert first["total"] == 8 and len(first["rows"]) == 5 and len(second["rows"]) == 3
    ids = [r["trial"] for r in first["rows"] + second["rows"]]
    assert sorted(ids) == [t.trial for t in trials]
    ranks = [int(r["cells"][first["columns"].index("rank")]) for r in first["rows"] + second["rows"]]
    assert ranks == list(range(1, 9))
    by_id = api(server, f"/api/run/{name}/leaderboard?sort=trial&desc=1")
    assert [r["trial"] for r in by_id["rows"]] == sorted(ids, reverse=True)
    lrs = sorted(t.params["learning_rate"] for t in trials)
    low, high = lrs[2], lrs[5]
    ranged = api(server, f"/api/run/{name}/leaderboard?param=learning_rate&lo={low!r}&hi={high!r}")
    assert ranged["total"] == 4
    assert api(server, f"/api/run/{name}/leaderboard?status=failed")["rows"] == []


def test_a_log_parameter_has_a_log_axis_and_one_minus_log_a_beta_axis(server: Server, runs: Path):
    axes = {a["name"]: a for a in api(server, f"/api/run/{run_name(runs)}")["axes"]}
    assert axes["learning_rate"]["scale"] == "log"
    assert [text for _, text in axes["learning_rate"]["ticks"]] == ["0.001", "0.01", "0.1"]
    assert [p for p, _ in axes["learning_rate"]["ticks"]] == pytest.approx([-3, -2, -1])
    assert axes["beta1"]["reversed"] and ["0.99", -2.0] in [[t, p] for p, t in axes["beta1"]["ticks"]]
    assert [t for _, t in axes["batch_size"]["ticks"]] == ["16", "32"]


def test_live_answers_send_only_what_is_new(server: Server, runs: Path):
    name = run_name(runs)
    whole = api(server, f"/api/run/{name}/trials?after=0")
    assert whole["after"] == 8 and not whole["more"] and len(whole["trials"]) == 8
    assert api(server, f"/api/run/{name}/trials?after=8")["trials"] == []
    stale = api(server, f"/api/run/{name}/trials?after=8&generation=5")  # another generation: everything again
    assert stale["reset"] and len(stale["trials"]) == 8


def test_serving_writes_nothing_in_the_runs_folder(server: Server, runs: Path):
    before = folder_state(runs)
    every_endpoint(server, run_name(runs))
    assert folder_state(runs) == before  # no run.sqlite-wal, no -shm, nothing touched


@pytest.mark.parametrize(
    "path",
    [
        "/api/run/..",
        "/api/run/%2e%2e",
        "/api/run/..%2F..%2Fetc",
        "/api/run/%2Fetc%2Fpasswd",
        "/api/run/.hidden",
        "/static/..%2Fserver.py",
        "/static/../runs.py",
        "/run/../../etc/passwd/x",
    ],
)
def test_no_path_leaves_the_runs_folder(server: Server, path: str):
    status, _, body = get(server, path)
    assert status in (400, 404) or (status == 200 and body.startswith(b"<!DOCTYPE html>")), (status, body[:80])
    assert b"import" not in body and b"root:" not in body


def test_a_link_out_of_the_runs_folder_is_not_followed(server: Server, runs: Path, tmp_path: Path):
    outside = tmp_path / "outside"
    shutil.copytree(runs / run_name(runs), outside / "secret")
    (runs / "linked").symlink_to(outside / "secret")
    status, _, body = get(server, "/api/run/linked")
    assert status == 404 and b"no run named" in body
    assert [u["name"] for u in api(server, "/api/runs")["unreadable"]] == ["linked"]


def test_a_damaged_run_is_listed_with_its_reason_and_the_others_still_served(server: Server, runs: Path):
    damaged = runs / "damaged"
    shutil.copytree(runs / run_name(runs), damaged)
    (damaged / "run.sqlite").write_bytes(b"not a database" * 100)
    answer = api(server, "/api/runs")
    assert [r["name"] for r in answer["runs"]] == [run_name(runs)]
    (entry,) = answer["unreadable"]
    assert entry["name"] == "damaged" and "damaged" in entry["reason"]
    status, _, body = get(server, "/api/run/damaged/leaderboard")
    assert status == 404 and "error" in json.loads(body)


def test_every_answer_carries_a_content_security_policy(server: Server, runs: Path):
    for path in ("/", f"/run/{run_name(runs)}", "/api/runs", "/static/run.js", "/nowhere"):
        _, headers, _ = get(server, path)
        policy = headers["Content-Security-Policy"]
        script = next(part for part in policy.split(";") if "script-src" in part)
        assert script.strip() == "script-src 'self'" and "default-src 'none'" in policy
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_the_pages_run_no_inline_script_and_use_text_not_html():
    static = Path(__file__).resolve().parents[1] / "hpsearch" / "serve" / "static"
    for page in static.glob("*.html"):
        text = page.read_text()
        assert text.count("<script") == text.count('<script src="/static/'), page.name
        assert not re.search(r"\son[a-z]+\s*=", text), page.name  # no inline event handler
    for script in static.glob("*.js"):
        text = script.read_text()
        assert "innerHTML" not in text and "outerHTML" not in text and "eval(" not in text, script.name


def test_a_request_for_another_host_name_is_refused(server: Server):
    assert get(server, "/api/runs", {"Host": "evil.example:80"})[0] == 421


def test_a_token_is_needed_where_one_is_set(runs: Path):
    with running(Server(runs, "127.0.0.1", 0, token="s3cret")) as server:
        assert get(server, "/api/runs")[0] == 403
        assert get(server, "/api/runs?token=wrong")[0] == 403
        status, headers, _ = get(server, "/?token=s3cret")
        assert status == 200 and "HttpOnly" in headers["Set-Cookie"] and "SameSite=Strict" in headers["Set-Cookie"]
        assert get(server, "/api/runs", {"Cookie": "hpsearch_token=s3cret"})[0] == 200


def test_another_host_than_loopback_gets_a_token_in_its_url(runs: Path):
    server = serve(runs, "0.0.0.0", 0)
    try:
        assert server.token and len(server.token) >= 20 and server.url.endswith(f"?token={server.token}")
    finally:
        server.server_close()
    local = serve(runs, "127.0.0.1", 0)
    try:
        assert local.token is None and "token" not in local.url
    finally:
        local.server_close()


def test_nothing_but_get_is_answered(server: Server):
    port = server.server_address[1]
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/runs", data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request)
    assert error.value.code == 501


def test_without_plotly_serve_refuses_in_one_line(runs: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "plotly", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'hpsearch\[serve\]'"):
        serve(runs, "127.0.0.1", 0)
    result = CliRunner().invoke(cli, ["serve", str(runs), "--port", "0"])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and "hpsearch[serve]" in lines[0]


def _trials_of(folder: Path) -> list[tuple]:
    with RunStore.open(folder, read_only=True) as store:
        return [(t.trial, t.params, t.seed, t.status, t.dev_cost, t.train_cost, t.history) for t in store.trials()]


def test_a_search_served_while_it_runs_gives_the_same_trials_bit_for_bit(tmp_path: Path):
    """A search read by the server all along its run stores what it stores alone. Its objective waits, in its
    first trial, until the test has seen the run as running (a tiny search can otherwise end between two polls:
    short work trains in the search process, in milliseconds)."""
    flag = tmp_path / "seen-running"
    (tmp_path / "held.py").write_text(
        "import pathlib, time\n"
        "def objective(params):\n"
        f"    flag, start = pathlib.Path({str(flag)!r}), time.monotonic()\n"
        "    while not flag.exists() and time.monotonic() - start < 60:\n"
        "        time.sleep(0.02)\n"
        "    return (params['x'] - 0.3) ** 2 + params['y']\n"
    )
    config = tmp_path / "held.yaml"
    config.write_text(
        "objective: {python: held:objective, metric: loss}\n"
        "space: {x: {scale: uniform, low: 0, high: 1}, y: {scale: log, low: 0.001, high: 1}}\n"
        "search: {trials: 10, seed: 3, workers: 1}\n"
    )
    runs = tmp_path / "runs"
    runs.mkdir()
    env = {**os.environ, "HPSEARCH_RUNS_DIR": str(runs), "PYTHONPATH": str(tmp_path)}
    command = [sys.executable, "-m", "hpsearch", "run", str(config), "--name"]
    seen: set[int] = set()
    statuses: set[str] = set()
    with running(Server(runs, "127.0.0.1", 0)) as server:
        search = subprocess.Popen(
            [*command, "served"], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        while search.poll() is None:  # poll as a page does, ten times faster
            if (runs / "served" / "run.sqlite").is_file() and any(
                r["name"] == "served" for r in api(server, "/api/runs")["runs"]
            ):
                seen |= {t["trial"] for t in api(server, "/api/run/served/trials?after=0")["trials"]}
                statuses.add(api(server, "/api/run/served")["status"])
                api(server, "/api/run/served/leaderboard")
                if "running" in statuses:
                    flag.touch()
            time.sleep(0.1)
        assert search.returncode == 0, search.stderr.read() if search.stderr else ""
        final = api(server, "/api/run/served/trials?after=0")
        assert "running" in statuses and api(server, "/api/run/served")["status"] == "finished"
    subprocess.run([*command, "alone"], env=env, cwd=tmp_path, check=True, capture_output=True)
    assert _trials_of(runs / "served") == _trials_of(runs / "alone")
    assert {t["trial"] for t in final["trials"]} == set(range(10)) and seen <= set(range(10))


def test_the_command_prints_its_url_serves_and_stops_on_ctrl_c(runs: Path):
    server = subprocess.Popen(
        [sys.executable, "-m", "hpsearch", "serve", str(runs), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = server.stdout.readline() if server.stdout else ""
        url = re.search(r"http://127\.0\.0\.1:[0-9]+/", line)
        assert url and "Ctrl-C" in line, line
        with urllib.request.urlopen(url.group(0) + "api/runs") as answer:
            assert [r["name"] for r in json.loads(answer.read())["runs"]] == [run_name(runs)]
        server.send_signal(signal.SIGINT)
        rest, _ = server.communicate(timeout=20)
    finally:
        server.kill()
    assert server.returncode == 0 and "stopped" in rest and "Traceback" not in rest


def test_the_cache_sends_what_is_new_and_starts_again_when_a_record_is_replaced(tmp_path: Path):
    from hpsearch.core.records import TrialStatus
    from hpsearch.serve.runs import Runs
    from tests.test_store import make_store, make_trial

    store = make_store(tmp_path, "demo", n_trials=4)
    runs = Runs(tmp_path)

    def seen() -> tuple[list[int], int]:
        return runs.read("demo", lambda _, cache: (list(cache.order), cache.generation))

    with store:
        store.record_trial(make_trial(0))
        store.record_trial(make_trial(1, TrialStatus.FAILED))
        assert seen() == ([0, 1], 0)
        store.record_trial(make_trial(2))
        assert seen() == ([0, 1, 2], 0)  # a new trial: appended, the same generation
        store.record_trial(make_trial(1))  # the failed trial's retry replaces its record
        assert seen() == ([0, 2, 1], 1)  # a page holding generation 0 is told to start again
        assert runs.read("demo", lambda _, cache: cache.records(_, [1])[0].status) is TrialStatus.OK


def test_the_served_ranking_is_the_ranking_of_show(tmp_path: Path):
    """Heads (no JSON parsed) rank as core.records.rank ranks the records: rungs, NaN, inf, every status."""
    from hpsearch.core.records import TrialStatus, rank
    from hpsearch.serve.runs import Runs
    from hpsearch.serve.views import _ranked
    from tests.test_store import make_store, make_trial

    ok, pruned = TrialStatus.OK, TrialStatus.PRUNED
    records = [
        make_trial(0, ok, 0.5, rung=1),
        make_trial(1, pruned, 0.1, rung=0),
        make_trial(2, TrialStatus.DIVERGED, math.nan),
        make_trial(3, ok, math.inf, rung=1),
        make_trial(4, TrialStatus.FAILED),
        make_trial(5, ok, 0.5, rung=1),
        make_trial(6, ok, 0.7, rung=1, value=0.2),
        make_trial(7, pruned, 0.05, rung=0),
    ]
    with make_store(tmp_path, "demo", n_trials=len(records)) as store:
        for rec in records:
            store.record_trial(rec)
        expected = [t.trial for t in rank(store.trials())]
    served = Runs(tmp_path).read("demo", lambda _, cache: [h.trial for h in _ranked(cache)])
    assert served == expected
