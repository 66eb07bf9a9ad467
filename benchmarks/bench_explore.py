"""Is `twolayer explore` fast enough to feel live? Training steps and redraws per second, side by side.

    python benchmarks/bench_explore.py              # about 40 s
    python benchmarks/bench_explore.py --seconds 3  # quicker, noisier

The goal (issue 20): at least 30 training steps, each followed by a redraw, per second at hidden
size 100 on a 2-D set (the spiral, 300 points, Adam, batch 32), with the decision-region heat map
at least 100×100 cells, on 2 cores. Three rows, from the library outwards:

  server compute   Session.step() + Session.frame() + json.dumps, in one thread: the ceiling;
  over WebSocket   the real server in a thread, a Tornado client that acknowledges every frame as
                   the page does after drawing it (the server waits for that ack);
  in Chromium      the real page in headless Chromium (Playwright, the system browser), playing:
                   the page counts the frames it has drawn and the steps they show.

Every row plays with one training step per frame, so steps/s = redraws/s. The figures depend on
what else runs on the machine: the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import time

from threadpoolctl import threadpool_limits

from twolayer.explore import Server, Session
from twolayer.explore.session import GRID

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def compute(seconds):
    s = Session()
    n, size, start = 0, 0, time.perf_counter()
    with threadpool_limits(1, user_api="blas"):
        while time.perf_counter() - start < seconds:
            s.step()
            size = len(json.dumps(s.frame()))
            n += 1
    elapsed = time.perf_counter() - start
    return n / elapsed, n / elapsed, size


async def _websocket(server, seconds):
    from tornado.websocket import websocket_connect

    conn = await websocket_connect(f"ws://127.0.0.1:{server.port}/ws?token={server.token}")
    for _ in range(3):  # hello, data, first frame
        await conn.read_message()
    conn.write_message('{"type": "play"}')
    frames, first_step, start = 0, None, None
    while True:
        msg = json.loads(await conn.read_message())
        if msg["type"] != "frame":
            continue
        conn.write_message('{"type": "ack"}')
        if start is None:
            start, first_step = time.perf_counter(), msg["step"]
            continue
        frames += 1
        if time.perf_counter() - start >= seconds:
            break
    elapsed = time.perf_counter() - start
    conn.close()
    return (msg["step"] - first_step) / elapsed, frames / elapsed


def websocket(seconds):
    server = Server(linger=None).start()
    try:
        return asyncio.run(_websocket(server, seconds))
    finally:
        server.stop()


def descendants_cpu():
    """CPU seconds (user + system) used so far by this process's descendants: Playwright's driver
    and every Chromium process it started (Linux /proc; 0 elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    parent, cpu = {}, {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    mine, total = {os.getpid()}, 0.0
    changed = True
    while changed:
        changed = False
        for pid, ppid in parent.items():
            if ppid in mine and pid not in mine:
                mine.add(pid)
                changed = True
    for pid in mine - {os.getpid()}:
        total += cpu.get(pid, 0.0)
    return total


def chromium(seconds):
    exe = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(exe):
        return None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    server = Server(linger=None).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=exe, args=ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1300, "height": 1250})
            page.goto(server.url)
            while not page.evaluate("window.explore && explore.frame !== null"):
                time.sleep(0.05)
            page.click("#play")
            time.sleep(1.0)  # warm up
            f0, s0 = page.evaluate("[explore.frames, explore.frame.step]")
            t0, server0, browser0 = time.perf_counter(), time.process_time(), descendants_cpu()
            time.sleep(seconds)
            f1, s1 = page.evaluate("[explore.frames, explore.frame.step]")
            elapsed = time.perf_counter() - t0
            server_cpu, browser_cpu = time.process_time() - server0, descendants_cpu() - browser0
            browser.close()
        frames = max(f1 - f0, 1)
        return (s1 - s0) / elapsed, (f1 - f0) / elapsed, server_cpu / frames, browser_cpu / frames
    finally:
        server.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per row (default 10)")
    args = parser.parse_args(argv)

    steps, frames, size = compute(args.seconds)
    rows = [("server compute", steps, frames, None, None)]
    rows.append(("over WebSocket", *websocket(args.seconds), None, None))
    browser = chromium(args.seconds)
    rows.append(("in Chromium", *browser) if browser else ("in Chromium", None, None, None, None))

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"twolayer explore: spiral, 300 points, H=100, Adam, batch 32, heat map {GRID}×{GRID}")
    print(
        f"frame: {size / 1024:.0f} KiB of JSON; {os.cpu_count()} cores; "
        f"load average {' '.join(f'{x:.1f}' for x in load) if load else '?'}"
    )
    print(f"{'':16} {'steps/s':>8} {'redraws/s':>10} {'goal':>7}   CPU per redraw")
    for name, s, f, server_cpu, browser_cpu in rows:
        if s is None:
            print(f"{name:16} {'-':>8} {'-':>10}   (needs /usr/bin/chromium and playwright)")
            continue
        ok = "met" if s >= 30 and f >= 30 else "MISSED"
        cpu = ""
        if server_cpu is not None:
            # pipelined (the server computes a frame while the page draws the last): on an idle
            # 2-core machine the slower side, or half their sum, bounds the rate
            bound = max(server_cpu, browser_cpu, (server_cpu + browser_cpu) / 2)
            cpu = (
                f"   server {1e3 * server_cpu:.1f} ms + browser {1e3 * browser_cpu:.1f} ms "
                f"→ an idle 2-core machine allows ≈ {1 / bound:.0f}/s"
            )
        print(f"{name:16} {s:8.1f} {f:10.1f} {ok:>7}{cpu}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
