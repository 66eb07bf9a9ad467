// twolayer explore: the page. It draws what the server computes and sends back what the learner
// does; it computes no number of the network itself (those come from TwoLayerNet.loss).
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
  const RGB = PALETTE.map((c) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)));
  const CHOICES = {
    lr: [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3],
    reg: [0, 0.0001, 0.001, 0.01, 0.1],
    batch_size: [1, 4, 16, 32, 64, 128, 256, 512, 2000],
    steps_per_frame: [1, 2, 5, 10, 20],
  };
  const SETTINGS = ["dataset", "points", "noise", "classes", "test_fraction", "seed", "hidden",
    "lr", "reg", "optimizer", "batch_size", "steps_per_frame"];

  // Everything the page knows, open to tests (window.explore).
  const state = {
    hello: null, data: null, frame: null, settings: {}, playing: false, history: [],
    trace: -1, snapshot: null, visitedStages: new Set(), visitedGates: { forward: new Set(), backward: new Set() },
    frames: 0, rate: { t: performance.now(), frames: 0, step: 0, fps: 0, sps: 0 }, errors: [],
  };
  window.explore = state;

  // -- the connection ------------------------------------------------------------------
  const token = document.body.dataset.token;
  const ws = new WebSocket(`ws://${location.host}/ws?token=${encodeURIComponent(token)}`);
  state.send = (msg) => { if (ws.readyState === WebSocket.OPEN) ws.send(typeof msg === "string" ? msg : JSON.stringify(msg)); };
  const send = state.send;
  ws.onopen = () => setStatus("connected", "ok");
  ws.onclose = () => { setStatus("disconnected (the server stopped or the page was reloaded elsewhere)", "bad"); setPlaying(false); };
  ws.onmessage = (event) => {
    const t0 = performance.now();
    const msg = JSON.parse(event.data);
    state.parseMs = performance.now() - t0;
    const handler = HANDLERS[msg.type];
    if (handler) handler(msg);
  };

  const HANDLERS = {
    hello(msg) {
      state.hello = msg;
      state.settings = msg.settings;
      setupControls(msg);
      buildCircuit();
    },
    data(msg) {
      state.data = msg;
      state.history = [];
      const digits = msg.dataset === "digits";
      $("two-d-view").hidden = digits;
      $("units-view").hidden = digits;
      $("digits-view").hidden = !digits;
      $("example-view").hidden = !digits;
      for (const el of document.querySelectorAll(".two-d")) el.hidden = digits;
      for (const el of document.querySelectorAll(".classes")) el.hidden = !state.hello.with_classes.includes(msg.dataset);
      $("example-index").max = msg.y.length - 1;
    },
    frame(msg) {
      const last = state.history[state.history.length - 1];
      if (last && msg.step < last.step) state.history = [];
      if (!last || msg.step !== last.step) state.history.push({ step: msg.step, ...msg.metrics });
      state.frame = msg;
      const t0 = performance.now();
      draw(msg);
      state.drawMs = performance.now() - t0;
      if (state.playing) send({ type: "ack" });
    },
    error(msg) { showError(msg.message); },
    paused() { setPlaying(false); },
  };

  function setStatus(text, cls) { const el = $("status"); el.textContent = text; el.className = "status " + cls; }
  function showError(text) { state.errors.push(text); $("error-text").textContent = text; $("error").hidden = false; }
  $("error-close").onclick = () => { $("error").hidden = true; };

  // -- controls ------------------------------------------------------------------------
  function fill(select, values, format) {
    select.replaceChildren(...values.map((v) => { const o = document.createElement("option"); o.value = String(v); o.textContent = format ? format(v) : String(v); return o; }));
  }

  function setupControls(msg) {
    fill($("dataset"), msg.choices.dataset);
    fill($("optimizer"), msg.choices.optimizer);
    for (const [name, values] of Object.entries(CHOICES)) {
      const current = msg.settings[name];
      const all = values.includes(current) ? values : [...values, current].sort((a, b) => a - b);
      fill($(name), all, name === "batch_size" ? (v) => (v >= 2000 ? "all" : String(v)) : null);
    }
    for (const name of SETTINGS) {
      const el = $(name);
      el.value = String(msg.settings[name]);
      showOutput(el);
      el.oninput = () => showOutput(el);
      el.onchange = () => {
        const value = parseValue(el);
        if (value === null) { showError(`${name}: not a number`); return; }
        state.settings[name] = value;
        send({ type: "config", settings: { [name]: value } });
      };
    }
  }

  function parseValue(el) {
    const kind = el.dataset.kind;
    if (kind === "str") return el.value;
    const v = Number(el.value);
    if (!Number.isFinite(v)) return null;
    return kind === "int" ? Math.round(v) : v;
  }

  function showOutput(el) {
    const out = document.querySelector(`output[for="${el.id}"]`);
    if (out) out.textContent = el.id === "test_fraction" ? `${Math.round(100 * el.value)}%` : el.value;
  }

  function setPlaying(on) {
    state.playing = on;
    $("play").textContent = on ? "pause" : "play";
    if (!on) $("rate").textContent = "";
  }

  $("play").onclick = () => {
    if (state.trace >= 0) exitTrace();
    setPlaying(!state.playing);
    send({ type: state.playing ? "play" : "pause" });
  };
  for (const kind of ["step", "epoch", "reset"]) {
    $(kind).onclick = () => { setPlaying(false); send({ type: kind }); };
  }

  // -- drawing -------------------------------------------------------------------------
  function draw(frame) {
    state.frames += 1;
    $("counters").textContent = `epoch ${frame.epoch} · step ${frame.step}`;
    const m = frame.metrics;
    $("metrics").textContent = `train loss ${num(m.train_loss)} · test loss ${num(m.test_loss)} · train accuracy ${pct(m.train_acc)} · test accuracy ${pct(m.test_acc)}`;
    if (frame.regions) { drawRegions(frame); drawUnits(frame.units); }
    if (frame.tiles) { drawTiles(frame.tiles); drawConfusion(frame.confusion); drawDigit(frame.example.pixels); }
    const ex = frame.example;
    $("example-info").textContent = `example #${frame.selected} (${ex.split} split), label ${ex.label}`;
    $("example-index").value = String(frame.selected);
    drawCurves();
    if (state.trace < 0) showCircuit(frame.circuit);
    updateRate(frame);
  }

  function updateRate(frame) {
    const r = state.rate, now = performance.now();
    r.frames += 1;
    if (now - r.t >= 1000) {
      r.fps = (r.frames * 1000) / (now - r.t);
      r.sps = (Math.max(0, frame.step - r.step) * 1000) / (now - r.t);
      r.t = now; r.frames = 0; r.step = frame.step;
      $("rate").textContent = state.playing ? `${r.sps.toFixed(0)} steps/s · ${r.fps.toFixed(0)} frames/s` : "";
    }
  }

  const num = (v) => (v === null || v === undefined ? "–" : v.toFixed(4));
  const pct = (v) => (v === null || v === undefined ? "–" : `${(100 * v).toFixed(1)}%`);

  function bytes(b64) {
    const s = atob(b64), out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }

  const offscreen = document.createElement("canvas");
  function blit(ctx, img, n, m, x, y, w, h, smooth) {
    if (offscreen.width !== n) offscreen.width = n;
    if (offscreen.height !== m) offscreen.height = m;
    offscreen.getContext("2d").putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = smooth;
    ctx.drawImage(offscreen, x, y, w, h);
  }

  function toPixel(canvas, extent, x, y) {
    return [((x + extent) / (2 * extent)) * canvas.width, ((extent - y) / (2 * extent)) * canvas.height];
  }

  function drawRegions(frame) {
    const canvas = $("regions"), ctx = canvas.getContext("2d"), reg = frame.regions, n = reg.n;
    const cells = bytes(reg.cells), img = new ImageData(n, n);
    const k = state.data.n_classes;
    for (let i = 0; i < n * n; i++) {
      // a cell is class·32 + round(31·probability): the class's colour, paler where the net is less sure
      const sure = Math.max(0, ((cells[i] & 31) / 31 - 1 / k) / (1 - 1 / k));
      const c = RGB[(cells[i] >> 5) % RGB.length], t = 0.15 + 0.5 * sure;
      img.data[4 * i] = 255 + (c[0] - 255) * t;
      img.data[4 * i + 1] = 255 + (c[1] - 255) * t;
      img.data[4 * i + 2] = 255 + (c[2] - 255) * t;
      img.data[4 * i + 3] = 255;
    }
    blit(ctx, img, n, n, 0, 0, canvas.width, canvas.height, true);
    const d = state.data, X = d.X, y = d.y;
    for (let i = 0; i < y.length; i++) {
      const [px, py] = toPixel(canvas, d.extent, X[i][0], X[i][1]);
      ctx.beginPath();
      ctx.arc(px, py, 3.6, 0, 2 * Math.PI);
      ctx.fillStyle = PALETTE[y[i] % PALETTE.length];
      ctx.fill();
      ctx.lineWidth = i < d.n_train ? 1 : 1.6;
      ctx.strokeStyle = i < d.n_train ? "#fff" : "#000";
      ctx.stroke();
    }
    const s = frame.selected, [sx, sy] = toPixel(canvas, d.extent, X[s][0], X[s][1]);
    ctx.beginPath(); ctx.arc(sx, sy, 9, 0, 2 * Math.PI);
    ctx.lineWidth = 2.5; ctx.strokeStyle = "#000"; ctx.stroke();
  }

  $("regions").onclick = (event) => {
    const d = state.data, canvas = $("regions");
    if (!d || !d.X) return;
    const box = canvas.getBoundingClientRect();
    const px = ((event.clientX - box.left) / box.width) * canvas.width, py = ((event.clientY - box.top) / box.height) * canvas.height;
    let best = 0, bestDist = Infinity;
    for (let i = 0; i < d.X.length; i++) {
      const [qx, qy] = toPixel(canvas, d.extent, d.X[i][0], d.X[i][1]);
      const dist = (qx - px) ** 2 + (qy - py) ** 2;
      if (dist < bestDist) { best = i; bestDist = dist; }
    }
    send({ type: "select", index: best });
  };

  function tileLayout(canvas, count, aspect) {
    const cols = Math.ceil(Math.sqrt(count * aspect));
    const size = Math.floor(Math.min(canvas.width / cols, 48));
    const rows = Math.ceil(count / cols);
    return { cols, size, rows };
  }

  // Many small maps drawn as one image: one putImageData and one drawImage per frame.
  function drawMosaic(canvas, count, n, m, aspect, colour, smooth) {
    const { cols, size, rows } = tileLayout(canvas, count, aspect);
    const height = Math.max(60, rows * size);
    if (canvas.height !== height) canvas.height = height; // setting it at all clears and re-lays out
    const W = cols * (n + 1), H = rows * (m + 1), img = new ImageData(W, H);
    img.data.fill(255);
    const rgb = [0, 0, 0];
    for (let u = 0; u < count; u++) {
      const ox = (u % cols) * (n + 1), oy = Math.floor(u / cols) * (m + 1);
      for (let r = 0; r < m; r++) {
        for (let c = 0; c < n; c++) {
          colour(u * n * m + r * n + c, rgb);
          const o = 4 * ((oy + r) * W + ox + c);
          img.data[o] = rgb[0]; img.data[o + 1] = rgb[1]; img.data[o + 2] = rgb[2];
        }
      }
    }
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height);
    blit(ctx, img, W, H, 0, 0, cols * size, rows * size, smooth);
  }

  function drawUnits(units) {
    const maps = bytes(units.maps);
    // 0: inactive (white) … 1: the unit's largest output (orange)
    drawMosaic($("units"), units.count, units.n, units.n, 1, (i, rgb) => {
      const v = maps[i] / 255;
      rgb[0] = 255 - 25 * v; rgb[1] = 255 - 140 * v; rgb[2] = 255 - 230 * v;
    }, true);
  }

  function drawTiles(tiles) {
    const [h, w] = tiles.shape, px = bytes(tiles.w);
    // −1 blue … +1 red
    drawMosaic($("tiles"), tiles.count, w, h, 2, (i, rgb) => {
      const v = (px[i] - 128) / 127, t = Math.abs(v), c = v > 0 ? [214, 39, 40] : [31, 119, 180];
      rgb[0] = 255 + (c[0] - 255) * t; rgb[1] = 255 + (c[1] - 255) * t; rgb[2] = 255 + (c[2] - 255) * t;
    }, false);
  }

  function drawConfusion(matrix) {
    const table = $("confusion"), k = matrix.length;
    if (table.rows.length !== k + 1) {
      table.replaceChildren();
      const head = table.insertRow();
      head.appendChild(document.createElement("th"));
      for (let j = 0; j < k; j++) { const th = document.createElement("th"); th.textContent = String(j); head.appendChild(th); }
      for (let i = 0; i < k; i++) {
        const row = table.insertRow(), th = document.createElement("th");
        th.textContent = String(i); row.appendChild(th);
        for (let j = 0; j < k; j++) row.insertCell();
      }
    }
    for (let i = 0; i < k; i++) {
      const total = matrix[i].reduce((a, b) => a + b, 0) || 1;
      for (let j = 0; j < k; j++) {
        const cell = table.rows[i + 1].cells[j + 1], share = matrix[i][j] / total;
        cell.textContent = matrix[i][j] ? String(matrix[i][j]) : "";
        const base = i === j ? [46, 125, 50] : [198, 40, 40];
        cell.style.background = `rgba(${base.join(",")},${(0.08 + 0.8 * share) * (matrix[i][j] ? 1 : 0)})`;
        cell.style.color = share > 0.5 ? "#fff" : "#222";
      }
    }
  }

  function drawDigit(pixels) {
    const canvas = $("digit"), ctx = canvas.getContext("2d"), img = new ImageData(8, 8);
    for (let i = 0; i < 64; i++) {
      const v = 255 - pixels[i];
      img.data[4 * i] = v; img.data[4 * i + 1] = v; img.data[4 * i + 2] = v; img.data[4 * i + 3] = 255;
    }
    blit(ctx, img, 8, 8, 0, 0, canvas.width, canvas.height, false);
  }

  function selectExample(i) {
    const n = state.data.y.length;
    send({ type: "select", index: ((i % n) + n) % n });
  }
  $("prev-example").onclick = () => selectExample(state.frame.selected - 1);
  $("next-example").onclick = () => selectExample(state.frame.selected + 1);
  $("example-index").onchange = () => selectExample(Math.round(Number($("example-index").value)) || 0);

  function drawCurves() {
    const canvas = $("curves"), ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
    ctx.clearRect(0, 0, W, H);
    const hist = state.history, half = (H - 30) / 2, left = 44, right = W - 8;
    const panels = [
      { keys: ["train_loss", "test_loss"], top: 8, label: "loss" },
      { keys: ["train_acc", "test_acc"], top: 22 + half, label: "accuracy", max: 1 },
    ];
    const stride = Math.max(1, Math.ceil(hist.length / (right - left)));
    const shown = hist.filter((_, i) => i % stride === 0 || i === hist.length - 1);
    for (const p of panels) {
      let max = p.max || 0;
      if (!p.max) for (const h of shown) for (const k of p.keys) if (h[k] !== null && h[k] > max) max = h[k];
      max = max || 1;
      ctx.strokeStyle = "#ccc"; ctx.lineWidth = 1;
      ctx.strokeRect(left, p.top, right - left, half);
      ctx.fillStyle = "#666"; ctx.font = "11px sans-serif"; ctx.textAlign = "right";
      ctx.fillText(max.toFixed(p.max ? 0 : 2), left - 4, p.top + 9);
      ctx.fillText("0", left - 4, p.top + half);
      // the panel's name, turned up the left margin where no curve goes
      ctx.save();
      ctx.translate(10, p.top + half / 2);
      ctx.rotate(-Math.PI / 2);
      ctx.textAlign = "center";
      ctx.fillText(p.label, 0, 0);
      ctx.restore();
      ctx.textAlign = "left";
      p.keys.forEach((k, j) => {
        ctx.strokeStyle = j === 0 ? "#1565c0" : "#ef6c00";
        ctx.setLineDash(j === 0 ? [] : [5, 3]);
        ctx.lineWidth = 1.6;
        ctx.beginPath();
        shown.forEach((h, i) => {
          if (h[k] === null) return;
          const x = left + (shown.length > 1 ? (i / (shown.length - 1)) * (right - left) : 0);
          const y = p.top + half - (Math.min(h[k], max) / max) * half;
          if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
        });
        ctx.stroke();
        ctx.setLineDash([]);
      });
    }
    ctx.fillStyle = "#1565c0"; ctx.fillText("— train", right - 110, 20);
    ctx.fillStyle = "#ef6c00"; ctx.fillText("- - test", right - 55, 20);
    const last = hist[hist.length - 1];
    ctx.fillStyle = "#666"; ctx.textAlign = "right";
    ctx.fillText(`step ${last ? last.step : 0}`, right, H - 2);
    ctx.textAlign = "left";
  }

  // -- the circuit ---------------------------------------------------------------------
  const Y = 150, TOP = 42;
  const GATE_AT = { mul1: [200, Y], add1: [390, Y], relu: [580, Y], mul2: [780, Y], add2: [970, Y], loss: [1185, Y], sum: [1375, Y], reg: [780, 285] };
  const GATE_LABEL = { mul1: "×", add1: "+", relu: "ReLU", mul2: "×", add2: "+", loss: "softmax loss", sum: "+", reg: "reg·ΣW²" };
  // wire: [from point, to point, where the numbers go: "h" above/below a horizontal wire, "v" beside a vertical one]
  const WIRES = {
    x: [[20, Y], [176, Y], "h"],
    W1: [[200, TOP], [200, Y - 24], "v"],
    b1: [[390, TOP], [390, Y - 24], "v"],
    xW1: [[224, Y], [366, Y], "h"],
    a: [[414, Y], [544, Y], "h"],
    h: [[616, Y], [756, Y], "h"],
    W2: [[780, TOP], [780, Y - 24], "v"],
    b2: [[970, TOP], [970, Y - 24], "v"],
    hW2: [[804, Y], [946, Y], "h"],
    scores: [[994, Y], [1125, Y], "h"],
    y: [[1185, 290], [1185, Y + 22], "v"],
    L_data: [[1245, Y], [1351, Y], "h"],  // from the softmax box's right edge (1185 + 58)
    R: [[838, 285], [1362, Y + 20], "d"],
    L: [[1399, Y], [1490, Y], "h"],
  };
  const AUX = [["W1", [200, 60], [730, 280]], ["W2", [780, 60], [780, 263]]];
  const nodes = {};

  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  function el(name, attrs, parent, text) {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }

  function buildCircuit() {
    const svg = $("circuit");
    svg.replaceChildren();
    const defs = el("defs", {}, svg);
    const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" }, defs);
    el("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#555" }, marker);
    for (const [name, from, to] of AUX) {
      const g = el("g", { class: "wire aux", "data-wire": "reg_" + name }, svg);
      el("path", { d: `M ${from[0]} ${from[1]} C ${from[0] - 60} ${to[1] - 40}, ${to[0] - 80} ${to[1]}, ${to[0]} ${to[1]}` }, g);
    }
    for (const [name, [from, to, place]] of Object.entries(WIRES)) {
      const g = el("g", { class: "wire", "data-wire": name }, svg);
      el("line", { x1: from[0], y1: from[1], x2: to[0], y2: to[1] }, g);
      let nx, ny, anchor = "start";
      if (place === "h") { nx = from[0] + 4; ny = from[1] - 30; }
      else if (place === "v") { nx = from[0] + 8; ny = from[1] + 12; }
      else { nx = 1090; ny = 250; }
      el("text", { class: "name", x: nx, y: ny, "text-anchor": anchor }, g, name);
      const val = el("text", { class: "val", x: nx, y: ny + 14 }, g);
      const grad = el("text", { class: "grad", x: nx, y: ny + (place === "h" ? 44 : 28) }, g);
      nodes[name] = { g, val, grad };
    }
    for (const [name, [x, y]] of Object.entries(GATE_AT)) {
      const g = el("g", { class: "gate", "data-gate": name }, svg);
      const label = GATE_LABEL[name];
      if (label.length > 2) el("rect", { x: x - (label.length * 4 + 10), y: y - 20, width: label.length * 8 + 20, height: 40, rx: 8 }, g);
      else el("circle", { cx: x, cy: y, r: 22 }, g);
      el("text", { x, y }, g, label);
    }
    const tbody = document.querySelector("#wires tbody");
    tbody.replaceChildren();
    for (const name of [...Object.keys(WIRES), "mask", "probs", "reg_W1", "reg_W2"]) {
      const row = tbody.insertRow();
      row.dataset.wire = name;
      row.insertCell().textContent = name;
      row.insertCell().dataset.kind = "shape";
      const v = row.insertCell(); v.className = "val"; v.dataset.kind = "value";
      const g = row.insertCell(); g.className = "grad"; g.dataset.kind = "grad";
    }
  }

  const short = (w, key, k) => {
    const xs = w[key];
    if (!xs) return "";
    if (w.size === 1) return xs[0];
    return `[${xs.slice(0, k).join(", ")}${w.size > k ? " …" : ""}]`;
  };

  // Reveal: {wire: {value: bool, grad: bool}}; undefined means everything shown.
  function showCircuit(circuit, reveal, lit) {
    for (const [name, node] of Object.entries(nodes)) {
      const w = circuit[name];
      if (!w) continue;
      const show = reveal ? reveal[name] || {} : { value: true, grad: true };
      const k = 2;
      setText(node.val, show.value ? short(w, "value", k) : "");
      setText(node.grad, show.grad && w.grad ? short(w, "grad", k) : "");
      node.g.classList.toggle("lit", Boolean(lit && lit.includes(name)));
    }
    for (const row of document.querySelectorAll("#wires tbody tr")) {
      const w = circuit[row.dataset.wire];
      if (!w) continue;
      const show = reveal ? reveal[row.dataset.wire] || {} : { value: true, grad: true };
      setText(row.cells[1], w.shape.length ? w.shape.join("×") : "scalar");
      setText(row.cells[2], show.value ? w.value.join("  ") + (w.size > w.value.length ? "  …" : "") : "");
      setText(row.cells[3], show.grad && w.grad ? w.grad.join("  ") + (w.size > w.grad.length ? "  …" : "") : (w.note && show.value ? w.note : ""));
      row.classList.toggle("lit", Boolean(lit && lit.includes(row.dataset.wire)));
    }
  }

  // -- step through: the forward pass gate by gate, then the backward pass ----------------
  function showStage(k) {
    const stages = state.hello.stages, stage = stages[k];
    state.trace = k;
    state.visitedStages.add(k);
    state.visitedGates[stage.pass].add(stage.gate);
    const reveal = {};
    stages.forEach((s, i) => {
      if (i > k) return;
      for (const w of s.wires) {
        reveal[w] = reveal[w] || {};
        if (s.pass === "forward") reveal[w].value = true; else reveal[w].grad = true;
      }
    });
    if (stage.pass === "backward") for (const s of stages) if (s.pass === "forward") for (const w of s.wires) (reveal[w] = reveal[w] || {}).value = true;
    if (k >= stages.findIndex((s) => s.gate === "relu" && s.pass === "forward")) (reveal.mask = reveal.mask || {}).value = true;
    if (stage.gate === "loss" || (stage.pass === "backward")) (reveal.probs = reveal.probs || {}).value = true;
    if (stage.gate === "reg" && stage.pass === "backward") { reveal.reg_W1 = { value: true }; reveal.reg_W2 = { value: true }; }
    showCircuit(state.snapshot, reveal, stage.wires);
    for (const g of document.querySelectorAll("#circuit .gate")) {
      g.classList.toggle("active", g.dataset.gate === stage.gate);
      if (g.dataset.gate === stage.gate) g.dataset[stage.pass] = "visited";
    }
    $("rule").hidden = false;
    $("rule-text").textContent = `${stage.pass} · ${GATE_LABEL[stage.gate]} gate:  ${stage.rule}`;
    const key = stage.pass === "forward" ? "value" : "grad";
    const lines = stage.wires.map((w) => {
      const wire = state.snapshot[w];
      const xs = wire[key] || wire.value;
      return `${stage.pass === "forward" ? "" : "dL/d"}${w} = ${wire.size === 1 ? xs[0] : "[" + xs.join(", ") + (wire.size > xs.length ? ", …" : "") + "]"}`;
    });
    $("rule-numbers").textContent = lines.join("\n");
    $("trace-label").textContent = `stage ${k + 1} of ${stages.length}` + (k === stages.length - 1 ? " — done: these red values are net.loss's gradients" : "");
    $("trace-prev").disabled = k === 0;
    $("trace-next").disabled = k === stages.length - 1;
  }

  function exitTrace() {
    state.trace = -1;
    $("rule").hidden = true;
    for (const g of document.querySelectorAll("#circuit .gate")) g.classList.remove("active");
    $("trace-label").textContent = "";
    for (const id of ["trace-prev", "trace-next", "trace-exit"]) $(id).disabled = true;
    if (state.frame) showCircuit(state.frame.circuit);
  }

  $("trace").onclick = () => {
    if (!state.frame) return;
    if (state.playing) { setPlaying(false); send({ type: "pause" }); }
    state.snapshot = state.frame.circuit;
    $("trace-exit").disabled = false;
    showStage(0);
  };
  $("trace-next").onclick = () => showStage(Math.min(state.trace + 1, state.hello.stages.length - 1));
  $("trace-prev").onclick = () => showStage(Math.max(state.trace - 1, 0));
  $("trace-exit").onclick = exitTrace;
})();
