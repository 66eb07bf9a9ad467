"""twolayer explore: data sets, the session, the circuit's numbers, the server's guards, and the page
in a real browser (headless Chromium driven by Playwright; those tests are marked slow)."""

import asyncio
import base64
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tornado")

from tornado.httpclient import HTTPClientError, HTTPRequest  # noqa: E402
from tornado.websocket import websocket_connect  # noqa: E402

from twolayer import layers  # noqa: E402
from twolayer.cli import main  # noqa: E402
from twolayer.explore import Server, Session, Settings, circuit, datasets  # noqa: E402
from twolayer.explore import server as explore_server  # noqa: E402
from twolayer.explore.server import parse  # noqa: E402

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# -- data sets ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", datasets.TWO_D)
def test_two_d_sets_are_seeded_split_and_inside_the_view(name):
    a = datasets.make(name, 300, 0.2, 4, 0.2, seed=3)
    b = datasets.make(name, 300, 0.2, 4, 0.2, seed=3)
    assert np.array_equal(a.X_train, b.X_train) and np.array_equal(a.y_test, b.y_test)
    assert len(a.y_train) + len(a.y_test) == 300 and len(a.y_test) == 60
    expected = 4 if name in datasets.WITH_CLASSES else 2
    assert a.n_classes == expected
    assert set(np.unique(a.y_test)) == set(range(expected))  # stratified: every class tested
    X = np.r_[a.X_train, a.X_test]
    assert np.abs(X).max() < 1.5 and X.shape[1] == 2
    assert not np.array_equal(datasets.make(name, 300, 0.2, 4, 0.2, seed=4).X_train, a.X_train)


def test_noise_blurs_the_spiral_and_xor_labels_follow_the_quadrants():
    clean = datasets.spiral(300, 3, 0.0, np.random.default_rng(0))[0]
    r = np.hypot(*clean.T)
    assert np.allclose(np.sort(r[:100]), np.linspace(0, 1, 100))  # CS231n's radius
    X, y = datasets.xor(400, 0.0, np.random.default_rng(0))
    assert np.array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(int))


def test_digits_are_scaled_pixels():
    d = datasets.make("digits", 0, 0, 0, 0.2, seed=0)
    assert d.image_shape == (8, 8) and d.n_classes == 10 and d.X_train.shape[1] == 64
    assert d.X_train.max() == 1.0 and len(d.y_train) + len(d.y_test) == 1797


# -- settings ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "changes, words",
    [
        ({"hidden": 0}, "hidden must be an integer in 1..256, got 0"),
        ({"hidden": True}, "hidden must be an integer"),
        ({"hidden": 2.5}, "hidden must be an integer"),
        ({"lr": "fast"}, "lr must be a number"),
        ({"lr": 50}, "lr must be a number in [1e-06, 10], got 50"),
        ({"dataset": "mnist"}, "dataset must be one of spiral, moons"),
        ({"optimizer": "rmsprop"}, "optimizer must be one of sgd"),
        ({"depth": 3}, "unknown setting 'depth'"),
        ([1, 2], "settings must be an object"),
    ],
)
def test_bad_settings_are_refused_in_words(changes, words):
    with pytest.raises(ValueError) as e:
        Settings().changed(changes)
    assert words in str(e.value)


def test_settings_rebuild_only_what_they_change():
    s = Session()
    s.step(5)
    before = s.net.params["W1"].copy()
    assert s.configure({"lr": 0.05, "reg": 0.0}) == "live" and s.steps == 5
    assert s.configure({"optimizer": "sgd"}) == "live" and s.optimizer.name == "sgd"
    assert np.array_equal(s.net.params["W1"], before)
    assert s.configure({"hidden": 7}) == "net" and s.steps == 0
    assert s.net.hidden_size == 7
    assert s.configure({"dataset": "moons"}) == "data" and s.data.n_classes == 2


# -- the session -------------------------------------------------------------------------
def test_training_the_spiral_lowers_the_loss_and_counts_epochs():
    s = Session()  # spiral, H = 100, Adam
    first = s.metrics()
    s.step(300)
    last = s.metrics()
    assert last["train_loss"] < 0.5 * first["train_loss"]
    assert last["train_acc"] > 0.8
    assert s.steps == 300
    # 240 training points in batches of 32: 7 steps an epoch
    assert s.epoch == 300 // 7
    s.run_epoch()
    assert s.epoch == 300 // 7 + 1 and s.position == 0


def test_reset_draws_new_weights_and_a_new_session_the_seeds_first():
    a, b = Session(), Session()
    assert np.array_equal(a.net.params["W1"], b.net.params["W1"])
    first = a.net.params["W1"].copy()
    a.step(3)
    a.reset(fresh=True)
    assert a.steps == 0 and a.epoch == 0 and not np.array_equal(a.net.params["W1"], first)
    a.configure({"hidden": 100, "seed": 0})  # nothing changed: the weights stay
    assert a.configure({"noise": 0.3}) == "data"
    assert np.array_equal(a.net.params["W1"], first)  # new data: the seed's first weights


def test_a_diverging_step_is_a_plain_error():
    s = Session(Settings(lr=10, optimizer="sgd", batch_size=240, reg=1))
    with pytest.raises(ValueError, match="no longer finite"):
        for _ in range(200):
            s.step()
    frame = json.dumps(s.frame(), allow_nan=False)  # still a valid frame (no NaN in JSON)
    assert '"type": "frame"' in frame


def test_the_heat_map_is_at_least_100_by_100_and_is_the_nets_prediction():
    s = Session()
    s.step(50)
    regions = s.frame()["regions"]
    n = regions["n"]
    assert n >= 100
    cells = np.frombuffer(base64.b64decode(regions["cells"]), np.uint8)
    assert cells.size == n * n
    from twolayer.explore.session import grid

    probs = s.net.predict_proba(grid(n))
    assert np.array_equal(cells >> 5, probs.argmax(axis=1))
    assert np.array_equal(cells & 31, np.round(31 * probs.max(axis=1)))


def test_unit_maps_show_where_each_relu_is_active():
    s = Session(Settings(hidden=5))
    units = s.units()
    maps = np.frombuffer(base64.b64decode(units["maps"]), np.uint8).reshape(5, -1)
    from twolayer.explore.session import UNIT_GRID, grid

    a = grid(UNIT_GRID) @ s.net.params["W1"] + s.net.params["b1"]
    assert np.array_equal(maps > 0, (a > 1e-9 * np.abs(a).max()).T & (maps > 0))
    assert np.array_equal(maps == 0, (a <= 0).T | (maps == 0))
    assert np.all(maps.max(axis=1) == 255)


def test_digits_frame_has_weight_tiles_and_a_confusion_matrix():
    s = Session(Settings(dataset="digits", hidden=16))
    s.run_epoch()
    f = s.frame()
    assert "regions" not in f and f["tiles"]["count"] == 16 and f["tiles"]["shape"] == [8, 8]
    assert len(base64.b64decode(f["tiles"]["w"])) == 16 * 64
    m = np.array(f["confusion"])
    assert m.shape == (10, 10) and m.sum() == len(s.data.y_test)
    predicted = s.net.scores(s.data.X_test).argmax(axis=1)
    assert np.trace(m) == np.sum(predicted == s.data.y_test)
    assert len(f["example"]["pixels"]) == 64


# -- the circuit -------------------------------------------------------------------------
def shown(values):
    return np.array([float(v) for v in values])


def close_to_printed(shown_values, true_values):
    """Each shown number is the true one rounded to circuit.DIGITS significant digits."""
    for s, t in zip(shown_values, np.ravel(true_values)):
        assert s == circuit.fmt(t), (s, t)


@pytest.mark.parametrize("dataset", ["spiral", "digits"])
def test_circuit_gradients_are_net_loss_gradients_for_the_example(dataset):
    s = Session(Settings(dataset=dataset, hidden=12, reg=0.01))
    s.step(20)
    s.select(5)
    x, label, _ = s.example()
    wires, _ = circuit.compute(s.net, x, label, s.settings.reg)
    loss, grads = s.net.loss(x[None], [label], reg=s.settings.reg)
    for name in ("W1", "b1", "W2", "b2"):
        close_to_printed(wires[name]["grad"], grads[name].ravel()[: circuit.SHOWN])
        close_to_printed(wires[name]["value"], s.net.params[name].ravel()[: circuit.SHOWN])
    assert wires["L"]["value"] == [circuit.fmt(loss)]
    # dL/dscores = softmax − onehot (N = 1), the tutorial's rule
    scores = s.net.loss(x[None])
    expected = layers.softmax(scores)[0] - np.eye(s.data.n_classes)[label]
    close_to_printed(wires["scores"]["grad"], expected[: circuit.SHOWN])
    # the ReLU mask gates the gradient: da = dh·[a > 0]
    mask = shown(wires["mask"]["value"])
    assert np.all(shown(wires["a"]["grad"])[mask == 0] == 0)
    # the regulariser's share is 2·reg·W
    close_to_printed(wires["reg_W2"]["value"], (2 * 0.01 * s.net.params["W2"]).ravel()[:8])


def test_every_gate_is_reached_forward_and_backward():
    stages = circuit.STAGES
    for direction in ("forward", "backward"):
        assert {g for g, d, _, _ in stages if d == direction} == set(circuit.GATES)
    forward = [g for g, d, _, _ in stages if d == "forward"]
    backward = [g for g, d, _, _ in stages if d == "backward"]
    assert forward.index("relu") < forward.index("mul2") and backward.index(
        "mul2"
    ) < backward.index("relu")
    rules = " ".join(r for _, _, r, _ in stages)
    for rule in ("softmax(scores) − onehot(y)) / N", "[a > 0]", "dW2 = hᵀ·dscores", "2·reg·W1"):
        assert rule in rules
    wires = circuit.compute(Session().net, np.zeros(2), 0, 0.0)[0]
    assert {w for *_, ws in stages for w in ws} <= set(wires)


def test_select_refuses_an_index_outside_the_data():
    s = Session()
    for bad in (-1, 300, "3", True, None):
        with pytest.raises(ValueError, match="index must be an integer in 0..299"):
            s.select(bad)


@pytest.mark.parametrize(
    "message, words",
    [
        (b"\x00", "binary messages"),
        ("nonsense", "not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"kind": "step"}', "JSON object"),
    ],
)
def test_parse_refuses_what_is_not_a_message(message, words):
    with pytest.raises(ValueError, match=words):
        parse(message)


# -- the server --------------------------------------------------------------------------
@pytest.fixture
def server():
    s = Server(linger=None).start()
    yield s
    s.stop()
    assert not s.running


def get(url, headers=None):
    """(status, body) of a GET; 4xx answers are returned, not raised."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {})) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read().decode()


def base(server):
    return f"http://127.0.0.1:{server.port}"


def test_the_page_and_its_files_need_the_token(server):
    status, body = get(server.url)
    assert status == 200 and "twolayer explore" in body and server.token in body
    for path in ("/", "/?token=", "/?token=" + "x" * len(server.token), "/static/app.js"):
        status, body = get(base(server) + path)
        assert status == 403, path
        assert "twolayer explore" in body and "token" in body and server.token not in body
    assert get(f"{base(server)}/static/app.js?token={server.token}")[0] == 200
    assert get(f"{base(server)}/static/style.css?token={server.token}")[0] == 200
    assert get(f"{base(server)}/static/nothing.js?token={server.token}")[0] == 404


def test_the_page_is_locked_down(server):
    with urllib.request.urlopen(server.url) as r:
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert r.headers["Referrer-Policy"] == "no-referrer"
        html = r.read().decode()
    assert "http://" not in html.replace('"http://www.w3.org', "")  # nothing fetched from elsewhere
    with urllib.request.urlopen(f"{base(server)}/static/app.js?token={server.token}") as r:
        js = r.read().decode()
    assert "https://" not in js and "eval(" not in js


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.example:{port}"},  # DNS rebinding: the attacker's name, our address
        {"Host": "127.0.0.1:1"},
        {"Host": ""},
        {"Origin": "http://evil.example"},
        {"Origin": "http://127.0.0.1:1"},
        {"Origin": "https://127.0.0.1:{port}"},
    ],
)
def test_a_foreign_host_or_origin_is_refused(server, headers):
    headers = {k: v.format(port=server.port) for k, v in headers.items()}
    status, _ = get(server.url, headers)
    assert status == 403


def test_loopback_names_and_the_servers_own_origin_are_allowed(server):
    for host in (f"localhost:{server.port}", f"127.0.0.1:{server.port}"):
        assert get(server.url, {"Host": host, "Origin": f"http://{host}"})[0] == 200


def test_host_check_on_a_wildcard_address():
    s = Server(host="0.0.0.0")
    s.port = 8000
    assert s.host_ok("192.168.1.20:8000") and s.host_ok(f"{socket.gethostname()}:8000")
    assert not s.host_ok("evil.example:8000") and not s.host_ok("192.168.1.20:8001")
    assert s.url.startswith("http://127.0.0.1:8000/?token=")


async def talk(server, messages, token=None, origin=None, until=None):
    """Open the WebSocket, send ``messages`` one by one, and return everything received."""
    url = f"ws://127.0.0.1:{server.port}/ws?token={token or server.token}"
    headers = {"Origin": origin} if origin else {}
    conn = await websocket_connect(HTTPRequest(url, headers=headers))
    received = []

    async def read(n):
        for _ in range(n):
            received.append(json.loads(await asyncio.wait_for(conn.read_message(), 10)))
            if until and received[-1]["type"] == "frame":
                conn.write_message('{"type": "ack"}')  # as the page does after drawing

    await read(3)  # hello, data, frame
    for message in messages:
        if isinstance(message, bytes):
            conn.write_message(message, binary=True)
        else:
            conn.write_message(message if isinstance(message, str) else json.dumps(message))
        await read(1)
        while until and not until(received[-1]):
            await read(1)
    await hang_up(conn)
    return received


async def hang_up(conn):
    """Close and wait for the server's reply, so that no socket is left to the garbage collector."""
    conn.close()
    try:
        while await asyncio.wait_for(conn.read_message(), 10) is not None:
            pass
    except asyncio.TimeoutError:
        pass


def ws(server, messages=(), **kw):
    return asyncio.run(talk(server, messages, **kw))


def test_the_websocket_needs_the_token_and_our_origin(server):
    with pytest.raises(HTTPClientError) as e:
        ws(server, token="wrong")
    assert e.value.code == 403
    with pytest.raises(HTTPClientError) as e:
        ws(server, origin="http://evil.example")
    assert e.value.code == 403
    hello, data, frame = ws(server, origin=f"http://localhost:{server.port}")
    assert hello["type"] == "hello" and data["type"] == "data" and frame["type"] == "frame"
    assert len(hello["stages"]) == len(circuit.STAGES)


@pytest.mark.parametrize(
    "message, words",
    [
        ("not json", "not JSON"),
        (b"\x01\x02", "binary messages"),
        ({"type": "fly"}, "unknown message type 'fly'"),
        ({"type": "config", "settings": {"hidden": 0}}, "hidden must be an integer in 1..256"),
        ({"type": "config", "settings": "big"}, "settings must be an object"),
        ({"type": "select", "index": 10**6}, "index must be an integer"),
        ({"type": "config", "settings": {"lr": 10, "optimizer": "sgd", "batch_size": 240}}, None),
    ],
)
def test_a_bad_message_is_answered_with_an_error_and_the_server_goes_on(server, message, words):
    received = ws(server, [message, {"type": "step"}])
    reply, after = received[3], received[-1]
    if words is None:
        assert reply["type"] == "frame"
    else:
        assert reply == {"type": "error", "message": reply["message"]}
        assert words in reply["message"]
    assert after["type"] in ("frame", "error")


def test_a_message_too_large_closes_only_that_socket(server):
    async def big():
        url = f"ws://127.0.0.1:{server.port}/ws?token={server.token}"
        conn = await websocket_connect(url)
        for _ in range(3):
            await conn.read_message()
        conn.write_message("x" * (100 * 1024))
        try:
            return await asyncio.wait_for(conn.read_message(), 10)
        finally:
            conn.close()  # the server has closed it already

    assert asyncio.run(big()) is None  # closed
    assert ws(server)[0]["type"] == "hello"


def test_the_gradients_sent_are_net_loss_gradients_for_the_chosen_example(server):
    received = ws(
        server,
        [
            {"type": "config", "settings": {"reg": 0.01}},
            {"type": "step"},
            {"type": "step"},
            {"type": "select", "index": 17},
        ],
    )
    frame = received[-1]
    assert frame["selected"] == 17 and frame["step"] == 2
    session = server.last_session
    x, label, _ = session.example()
    _, grads = session.net.loss(x[None], [label], reg=0.01)
    for name in ("W1", "b1", "W2", "b2"):
        close_to_printed(frame["circuit"][name]["grad"], grads[name].ravel()[: circuit.SHOWN])


def test_play_streams_frames_while_the_page_acknowledges_them(server, monkeypatch):
    monkeypatch.setattr(explore_server, "ACK_TIMEOUT", 60.0)  # only acks can keep it going

    def fifth(msg):
        return msg.get("step", 0) >= 5

    received = ws(server, [{"type": "play"}], until=fifth)
    steps = [m["step"] for m in received if m["type"] == "frame"]
    assert steps[-1] >= 5 and steps == sorted(steps)


def test_play_sends_no_more_than_two_frames_ahead_of_the_acks(server, monkeypatch):
    monkeypatch.setattr(explore_server, "ACK_TIMEOUT", 60.0)

    async def unacknowledged():
        conn = await websocket_connect(f"ws://127.0.0.1:{server.port}/ws?token={server.token}")
        for _ in range(3):
            await conn.read_message()
        conn.write_message('{"type": "play"}')
        frames = [json.loads(await asyncio.wait_for(conn.read_message(), 10)) for _ in range(2)]
        with pytest.raises(asyncio.TimeoutError):  # a page that draws nothing gets nothing more
            await asyncio.wait_for(conn.read_message(), 0.5)
        conn.write_message('{"type": "ack"}')
        frames.append(json.loads(await asyncio.wait_for(conn.read_message(), 10)))
        await hang_up(conn)
        return [f["step"] for f in frames]

    assert asyncio.run(unacknowledged()) == [1, 2, 3]


def test_closing_the_last_tab_stops_the_server():
    s = Server(linger=0.2).start()
    port = s.port
    ws(s)
    deadline = time.monotonic() + 10
    while s.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not s.running and s.stopped_because == "the page was closed"
    assert not [t for t in threading.enumerate() if t.name == "twolayer-explore"]
    free_port(port)


def test_stopping_with_a_tab_open_closes_its_socket():
    s = Server(linger=None).start()

    async def open_tab():
        conn = await websocket_connect(f"ws://127.0.0.1:{s.port}/ws?token={s.token}")
        for _ in range(3):
            await conn.read_message()
        threading.Thread(target=s.stop).start()  # as Ctrl-C or Explorer.stop() would
        while await asyncio.wait_for(conn.read_message(), 10) is not None:
            pass
        return conn.close_code

    assert asyncio.run(open_tab()) == 1001  # "going away"
    deadline = time.monotonic() + 10
    while s.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not s.running and not s.connections
    free_port(s.port)


def test_stopping_cuts_a_tab_that_does_not_answer_the_close():
    s = Server(linger=None).start()
    with socket.create_connection(("127.0.0.1", s.port)) as raw:  # a WebSocket that never replies
        key = base64.b64encode(os.urandom(16)).decode()
        raw.sendall(
            f"GET /ws?token={s.token} HTTP/1.1\r\nHost: 127.0.0.1:{s.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        assert raw.recv(12) == b"HTTP/1.1 101"
        s.stop()
        assert not s.running
        raw.settimeout(5)
        while raw.recv(65536):  # frames, then the end of the stream
            pass
    free_port(s.port)


def free_port(port):
    with socket.socket() as probe:  # the port is free again: bind succeeds
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))


def test_a_busy_port_is_one_line_and_exit_2(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["explore", "--no-browser", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot listen on 127.0.0.1:{port}" in err


def test_a_bad_port_is_one_line_and_exit_2(capsys):
    assert main(["explore", "--no-browser", "--port", "70000"]) == 2
    assert "--port must be in 0..65535" in capsys.readouterr().err


def test_without_the_extra_the_command_names_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tornado", None)  # import tornado → ImportError
    assert main(["explore", "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'pip install "twolayer[explore]"' in err


@pytest.mark.slow
@pytest.mark.parametrize("as_json", [False, True])
def test_the_command_serves_until_ctrl_c_and_leaves_no_port(as_json):
    proc = subprocess.Popen(
        [sys.executable, "-m", "twolayer", "explore", "--no-browser"] + ["--json"] * as_json,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        if as_json:
            doc = json.loads(line)
            url, port = doc["url"], doc["port"]
            assert doc["host"] == "127.0.0.1" and url.startswith(f"http://127.0.0.1:{port}/?token=")
        else:
            assert line.startswith("twolayer explore: http://127.0.0.1:")
            url = line.split()[-1]
            port = int(url.split(":")[2].split("/")[0])
        assert get(url)[0] == 200
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert err == "" and (out == "" if as_json else "stopped (Ctrl-C)" in out)
    free_port(port)


# -- in a real browser -------------------------------------------------------------------
SHOTS = (
    Path(os.environ.get("TWOLAYER_SCREENSHOTS", ""))
    if os.environ.get("TWOLAYER_SCREENSHOTS")
    else None
)


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("needs Debian's chromium (/usr/bin/chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Tab:
    """A page on a fresh server, with its console errors collected."""

    def __init__(self, browser, tmp_path):
        self.server = Server(linger=0.3).start()
        self.page = browser.new_page(viewport={"width": 1300, "height": 1250})
        self.errors = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.shots = SHOTS or tmp_path
        self.page.goto(self.server.url)
        self.wait("explore.frame !== null && explore.hello !== null")

    def js(self, expression):
        return self.page.evaluate(expression)

    def wait(self, expression, timeout=20):
        # polled from Python: the page's CSP forbids the eval that wait_for_function needs
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.js(expression):
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {expression}")

    def step(self):
        return self.js("explore.frame.step")

    def shot(self, name):
        self.shots.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(self.shots / name), full_page=True)

    def close(self):
        self.page.close()
        deadline = time.monotonic() + 10
        while self.server.running and time.monotonic() < deadline:
            time.sleep(0.05)
        self.server.stop()


@pytest.fixture
def tab(browser, tmp_path):
    t = Tab(browser, tmp_path)
    yield t
    t.close()
    assert t.errors == []


def regions(tab):
    return tab.js("explore.frame.regions.cells")


@pytest.mark.slow
def test_play_on_the_spiral_lowers_the_loss_and_moves_the_boundary(tab):
    assert tab.js("explore.data.dataset") == "spiral" and tab.errors == []
    before_loss, before_regions = tab.js("explore.frame.metrics.train_loss"), regions(tab)
    tab.page.click("#play")
    tab.wait("explore.frame.step >= 120", timeout=60)
    tab.page.click("#play")  # pause
    assert tab.page.inner_text("#play") == "play"
    tab.wait("explore.frame.step === explore.history[explore.history.length - 1].step")
    after = tab.js("explore.frame.metrics")
    assert after["train_loss"] < 0.7 * before_loss
    assert regions(tab) != before_regions
    assert tab.js("explore.history.length") > 5
    tab.shot("spiral.png")
    stopped_at = tab.step()
    time.sleep(0.3)
    assert tab.step() == stopped_at  # paused means paused


@pytest.mark.slow
def test_one_step_moves_the_red_values(tab):
    red = "document.querySelector('#wires tr[data-wire=\"W2\"] td.grad').textContent"
    svg_red = "document.querySelector('#circuit g[data-wire=\"hW2\"] text.grad').textContent"
    before, before_svg = tab.js(red), tab.js(svg_red)
    assert before and before_svg
    tab.page.click("#step")
    tab.wait("explore.frame.step === 1")
    assert tab.js(red) != before and tab.js(svg_red) != before_svg
    tab.page.click("#epoch")
    tab.wait("explore.frame.epoch === 1")


@pytest.mark.slow
def test_the_gradients_on_the_page_are_net_loss_gradients_for_the_clicked_point(tab):
    tab.page.click("#step")
    tab.wait("explore.frame.step === 1")
    # click the 11th point of the data on the heat map
    px, py = tab.js(
        """(() => { const c = document.getElementById('regions'), b = c.getBoundingClientRect();
        const [x, y] = explore.data.X[10], e = explore.data.extent;
        return [b.left + (x + e) / (2 * e) * b.width, b.top + (e - y) / (2 * e) * b.height]; })()"""
    )
    tab.page.mouse.click(px, py)
    tab.wait("explore.frame.selected === 10")
    session = tab.server.last_session
    x, label, _ = session.example()
    _, grads = session.net.loss(x[None], [label], reg=session.settings.reg)
    for name in ("W1", "b1", "W2", "b2"):
        cell = f"document.querySelector('#wires tr[data-wire=\"{name}\"] td.grad').textContent"
        on_page = tab.js(cell).replace("…", "").split()
        assert len(on_page) == min(circuit.SHOWN, grads[name].size)
        for text, true in zip(on_page, grads[name].ravel()):
            assert float(text) == pytest.approx(true, rel=10 ** (1 - circuit.DIGITS), abs=1e-300)
            assert text == circuit.fmt(true)


@pytest.mark.slow
def test_step_through_reaches_every_gate_forward_then_backward(tab):
    tab.page.click("#play")
    tab.wait("explore.frame.step >= 3")
    tab.page.click("#trace")  # pauses training
    assert tab.page.inner_text("#play") == "play"
    n = len(circuit.STAGES)
    seen = []
    for k in range(n):
        seen.append(tab.js("document.getElementById('rule-text').textContent"))
        if k == 4:
            tab.shot("step-through-forward.png")
        if k == 11:
            tab.shot("step-through-backward.png")
        if k < n - 1:
            tab.page.click("#trace-next")
    assert tab.page.is_disabled("#trace-next")
    assert "done" in tab.page.inner_text("#trace-label")
    assert [s.split(":  ")[1] for s in seen] == [rule for _, _, rule, _ in circuit.STAGES]
    for direction in ("forward", "backward"):
        assert sorted(tab.js(f"[...explore.visitedGates.{direction}]")) == sorted(circuit.GATES)
    visited = tab.js(
        "[...document.querySelectorAll('#circuit .gate')].map(g => [g.dataset.gate, g.dataset.forward, g.dataset.backward])"
    )
    assert all(f == b == "visited" for _, f, b in visited) and len(visited) == len(circuit.GATES)
    # at the end every gradient is shown, and they are the live circuit's
    tab.page.click("#trace-exit")
    assert tab.page.is_hidden("#rule")


@pytest.mark.slow
def test_forward_stages_hide_gradients_until_the_backward_pass(tab):
    tab.page.click("#trace")
    grad = "document.querySelector('#wires tr[data-wire=\"W1\"] td.grad').textContent"
    assert tab.js(grad) == ""
    for _ in range(8):
        tab.page.click("#trace-next")
    assert "backward" in tab.page.inner_text("#rule-text") and tab.js(grad) == ""
    for _ in range(7):
        tab.page.click("#trace-next")
    assert tab.js(grad) != ""


@pytest.mark.slow
def test_every_two_d_set_draws(tab):
    for name in datasets.TWO_D:
        tab.page.select_option("#dataset", name)
        tab.wait(f"explore.data.dataset === '{name}' && explore.frame.regions !== undefined")
        tab.page.click("#epoch")
        tab.wait("explore.frame.epoch === 1")
        tab.shot(f"{name}.png")
    assert tab.page.is_visible("#regions") and tab.page.is_hidden("#digits-view")


@pytest.mark.slow
def test_digits_mode_shows_weight_tiles_and_a_live_confusion_matrix(tab):
    tab.page.select_option("#dataset", "digits")
    tab.wait("explore.data.dataset === 'digits' && explore.frame.tiles !== undefined")
    assert tab.page.is_hidden("#regions") and tab.page.is_visible("#tiles")
    diagonal = "[...Array(10).keys()].reduce((s, i) => s + Number(document.querySelector('#confusion').rows[i + 1].cells[i + 1].textContent || 0), 0)"
    before = tab.js(diagonal)
    for epoch in (1, 2, 3):
        tab.page.click("#epoch")
        tab.wait(f"explore.frame.epoch === {epoch}")
    session = tab.server.last_session
    predicted = session.net.scores(session.data.X_test).argmax(axis=1)
    assert tab.js(diagonal) == np.sum(predicted == session.data.y_test) > before
    chosen = tab.js("explore.frame.selected")
    tab.page.click("#next-example")
    tab.wait(f"explore.frame.selected === {chosen + 1}")
    assert len(tab.js("explore.frame.example.pixels")) == 64
    tab.shot("digits.png")


@pytest.mark.slow
def test_a_bad_message_from_the_page_is_shown_on_the_page(tab):
    assert tab.page.is_hidden("#error")
    tab.js('explore.send(\'{"type": "config", "settings": {"hidden": 999}}\')')
    tab.page.wait_for_selector("#error", state="visible")
    assert "hidden must be an integer in 1..256, got 999" in tab.page.inner_text("#error")
    tab.page.click("#error-close")
    assert tab.page.is_hidden("#error")


@pytest.mark.slow
def test_closing_the_tab_stops_the_server_and_frees_its_port(browser, tmp_path):
    t = Tab(browser, tmp_path)
    t.page.click("#play")
    t.wait("explore.frame.step >= 3")
    port = t.server.port
    t.close()
    assert not t.server.running and t.server.stopped_because == "the page was closed"
    assert not [th for th in threading.enumerate() if th.name == "twolayer-explore"]
    free_port(port)
    assert t.errors == []


@pytest.mark.slow
def test_without_the_token_the_browser_gets_a_refusal(browser):
    s = Server(linger=None).start()
    try:
        page = browser.new_page()
        response = page.goto(f"http://127.0.0.1:{s.port}/")
        assert response.status == 403 and "token" in page.inner_text("body")
        assert not s.sessions
        page.close()
    finally:
        s.stop()


def test_math_helpers_are_consistent():
    assert circuit.fmt(0.000123456) == "0.0001235" and circuit.fmt(12345.6) == "1.235e+04"
    assert math.isclose(float(circuit.fmt(math.pi)), 3.142)


# -- in a notebook -------------------------------------------------------------------------
def test_the_notebook_explorer_shows_the_page_in_a_frame_and_stops():
    from twolayer.explore import Explorer

    ex = Explorer(height=700)
    try:
        assert ex.server.running and "running at http://127.0.0.1:" in repr(ex)
        frame = ex._repr_html_()
        assert frame.startswith("<iframe") and ex.server.token in frame and 'height="700"' in frame
        with urllib.request.urlopen(ex.url) as r:
            assert (
                "frame-ancestors http://localhost:* http://127.0.0.1:*"
                in r.headers["Content-Security-Policy"]
            )
    finally:
        ex.stop()
    assert not ex.server.running and "stopped" in ex._repr_html_() and "stopped" in repr(ex)


def test_only_the_notebook_explorer_may_be_framed(server):
    with urllib.request.urlopen(server.url) as r:
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


def serve_html(text):
    """An HTTP server on 127.0.0.1 serving ``text`` at /; returns (url, stop)."""
    import http.server

    class One(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = text.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), One)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()

    def stop():
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)

    return f"http://127.0.0.1:{httpd.server_address[1]}/", stop


@pytest.mark.slow
def test_the_notebook_frame_runs_the_page_in_a_browser(browser):
    from twolayer.explore import Explorer

    ex = Explorer()
    url, stop = serve_html(f"<!doctype html><title>notebook</title>{ex._repr_html_()}")
    page = browser.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(url)
        deadline = time.monotonic() + 20
        inner = None
        while time.monotonic() < deadline:
            inner = next((f for f in page.frames if ex.server.token in f.url), None)
            if inner is not None and inner.evaluate("!!(window.explore && explore.frame)"):
                break
            time.sleep(0.05)
        assert inner is not None and inner.evaluate("explore.frame.type") == "frame"
        inner.click("#step")
        deadline = time.monotonic() + 10
        while inner.evaluate("explore.frame.step") != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert inner.evaluate("explore.frame.step") == 1
        assert errors == []
    finally:
        page.close()
        stop()
        ex.stop()
    assert not ex.server.running
