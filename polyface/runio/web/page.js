// The run page: polls /api/state, shows the best portrait (or the frame picked with the
// scrubber), what each detector sees on it, the score curve and the current population.
"use strict";
(function () {
  const body = document.body;
  const mode = body.dataset.mode;
  const pollMs = Number(body.dataset.pollMs) || 1000;
  const passTier = Number(body.dataset.passTier) || 2;
  const NS = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);
  const points = [];   // [generation, elapsed_s, best, mean]
  const frames = [];   // [generation, elapsed_s, best]
  const hidden = new Set();
  let follow = true, shown = -1, axis = "generation", popGen = -1, popAt = 0, ended = null, view = null;

  function el(name, attrs, parent) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function fmt(x, d) { return x === null || x === undefined ? "–" : Number(x).toFixed(d); }
  function secs(s) { s = Number(s) || 0; return s < 90 ? s.toFixed(1) + " s" : Math.floor(s / 60) + " min " + Math.round(s % 60) + " s"; }

  function showFrame(k) {
    if (k < 0 || k >= frames.length) return;
    const f = frames[k];
    $("frame-label").textContent = "frame " + (k + 1) + " of " + frames.length + " · gen " + f[0] + " · " + secs(f[1]) + " · score " + fmt(f[2], 3);
    if (k === shown) return;
    shown = k;
    $("portrait").src = "/api/frame/" + k + ".png";
    $("portrait").dataset.frame = String(k);
    fetch("/api/frame/" + k + ".json").then((r) => r.ok ? r.json() : null).then((v) => {
      if (v && shown === k) { view = v; drawOverlay(); }
    }).catch(() => {});
    drawPlot();
  }

  function drawOverlay() {
    const svg = $("overlay");
    svg.replaceChildren();
    const toggles = $("toggles");
    if (!view) return;
    for (const d of view.detectors) {
      if (!toggles.querySelector('[data-name="' + d.name + '"]')) {
        const label = document.createElement("label");
        label.dataset.name = d.name;
        const box = document.createElement("input");
        box.type = "checkbox"; box.checked = !hidden.has(d.name);
        box.addEventListener("change", () => { box.checked ? hidden.delete(d.name) : hidden.add(d.name); drawOverlay(); });
        const sw = document.createElement("span");
        sw.className = "swatch"; sw.style.background = d.colour;
        const count = document.createElement("span");
        count.className = "count";
        label.append(box, " ", sw, d.label, " ", count);
        toggles.appendChild(label);
      }
      const n = d.faces.length;
      const said = d.portrait ? "yes" : "no";
      const measure = d.correlation !== undefined ? ", correlation " + Number(d.correlation).toFixed(2) : "";
      toggles.querySelector('[data-name="' + d.name + '"] .count').textContent =
        (d.point_names.length ? (n === 1 ? "1 face, " : n + " faces, ") : "") + said + measure;
      if (hidden.has(d.name)) continue;
      const g = el("g", { "class": "det det-" + d.name }, svg);
      for (const face of d.faces) {
        const [x0, y0, x1, y1] = face.box;
        el("rect", { x: x0, y: y0, width: x1 - x0, height: y1 - y0, fill: "none", stroke: d.colour,
                     "stroke-width": 2, "vector-effect": "non-scaling-stroke" }, g);
        for (const [px, py] of face.points) el("circle", { cx: px, cy: py, r: 0.011, fill: d.colour, stroke: "#000", "stroke-width": 0.003 }, g);
        if (face.prob !== null) {
          const t = el("text", { x: Math.min(Math.max(0.005, x0 + 0.005), 0.6), y: Math.max(0.035, y0 - 0.008), fill: d.colour, "font-size": 0.035 }, g);
          t.textContent = d.label + " " + Number(face.prob).toFixed(3);
        }
      }
    }
  }

  function thin(arr, n) {
    if (arr.length <= n) return arr;
    const out = [], step = (arr.length - 1) / (n - 1);
    for (let i = 0; i < n; i++) out.push(arr[Math.round(i * step)]);
    return out;
  }

  function drawPlot() {
    const svg = $("plot");
    svg.replaceChildren();
    const W = 480, H = 220, L = 34, R = 10, T = 10, B = 24;
    const xi = axis === "time" ? 1 : 0;
    const pts = thin(points.length ? points : frames.map((f) => [f[0], f[1], f[2], null]), 800);
    let x0 = Infinity, x1 = -Infinity, y0 = 0, y1 = passTier + 1;
    for (const p of pts) {
      x0 = Math.min(x0, p[xi]); x1 = Math.max(x1, p[xi]);
      y0 = Math.min(y0, p[2], p[3] === null ? 0 : p[3]); y1 = Math.max(y1, p[2]);
    }
    if (!isFinite(x0)) { x0 = 0; x1 = 1; }
    if (x1 <= x0) x1 = x0 + 1;
    const sx = (x) => L + (x - x0) / (x1 - x0) * (W - L - R);
    const sy = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
    for (let y = Math.ceil(y0); y <= Math.floor(y1); y++) {
      el("line", { "class": "grid", x1: L, x2: W - R, y1: sy(y), y2: sy(y) }, svg);
      el("text", { x: L - 6, y: sy(y) + 3, "text-anchor": "end" }, svg).textContent = String(y);
    }
    el("line", { "class": "pass", x1: L, x2: W - R, y1: sy(passTier), y2: sy(passTier) }, svg);
    el("text", { x: W - R - 2, y: sy(passTier) - 4, "text-anchor": "end" }, svg).textContent = "pass";
    const unit = axis === "time" ? (v) => secs(v) : (v) => "gen " + Math.round(v);
    el("text", { x: L, y: H - 6 }, svg).textContent = unit(x0);
    el("text", { x: W - R, y: H - 6, "text-anchor": "end" }, svg).textContent = unit(x1);
    const mean = pts.filter((p) => p[3] !== null).map((p) => sx(p[xi]).toFixed(1) + "," + sy(p[3]).toFixed(1));
    if (mean.length) el("polyline", { "class": "mean", points: mean.join(" ") }, svg);
    const best = pts.map((p) => sx(p[xi]).toFixed(1) + "," + sy(p[2]).toFixed(1));
    if (best.length) el("polyline", { "class": "best", points: best.join(" ") }, svg);
    svg.dataset.points = String(pts.length);
    if (shown >= 0 && shown < frames.length) {
      const f = frames[shown], x = sx(axis === "time" ? f[1] : f[0]);
      el("line", { "class": "cursor", x1: x, x2: x, y1: T, y2: H - B }, svg);
      el("circle", { "class": "dot", cx: x, cy: sy(f[2]), r: 3.5 }, svg);
    }
  }

  function drawPopulation(pop) {
    const box = $("pop");
    if (!box || !pop || pop.generation === popGen || Date.now() - popAt < 3 * pollMs) return;
    popGen = pop.generation; popAt = Date.now();
    const scores = pop.scores.slice().sort((a, b) => b - a);
    let img = box.querySelector("img");
    if (!img) {
      img = document.createElement("img");
      img.alt = "this generation's candidates, best first";
      box.append(img, document.createElement("p"));
    }
    img.src = "/api/pop/" + pop.generation + ".png";
    box.querySelector("p").textContent = "generation " + pop.generation + " · " + scores.length + " candidates, best first"
      + (scores.length > 32 ? " (32 shown)" : "") + " · scores " + Number(scores[0]).toFixed(2) + " to " + Number(scores[scores.length - 1]).toFixed(2);
  }

  function showEnd(e, files) {
    const words = { target: "a portrait: it passes at every size", max_generations: "the generation limit",
      time_limit: "the time limit", stagnation: "no improvement for too long", interrupted: "interrupted (Ctrl-C); the best was saved",
      done: "done" };
    const banner = $("ended");
    const reason = words[e.status] || e.status;
    banner.textContent = mode === "live"
      ? "The run has ended: " + reason + ". " + (e.portrait ? "Portrait passes." : "Not a portrait yet.") + " This is its final portrait."
      : "Finished run: " + reason + (e.portrait === undefined ? "." : (e.portrait ? " · portrait passes." : " · not a portrait."));
    banner.hidden = false;
    $("status").textContent = "ended";
    $("status").classList.add("ended");
    body.dataset.ended = e.status;
    if (files && files.length) {
      const p = $("files");
      p.replaceChildren();
      for (const name of files) {
        const a = document.createElement("a");
        a.href = "/files/" + name; a.textContent = name;
        p.appendChild(a);
      }
      $("files-card").hidden = false;
    }
  }

  function apply(s) {
    for (const p of s.points) points.push(p);
    for (const f of s.frames) frames.push(f);
    $("s-gen").textContent = String(s.generation);
    $("s-best").textContent = fmt(s.best, 3);
    $("s-time").textContent = secs(s.elapsed_s);
    $("s-rate").textContent = s.evals_per_s ? fmt(s.evals_per_s, 0) : "–";
    const scrub = $("scrub");
    scrub.max = String(Math.max(0, frames.length - 1));
    if (follow) { scrub.value = scrub.max; showFrame(frames.length - 1); }
    drawPlot();
    drawPopulation(s.population);
    if (s.ended) { ended = s.ended; showEnd(s.ended, s.files); }
  }

  function poll() {
    fetch("/api/state?p=" + points.length + "&f=" + frames.length, { cache: "no-store" })
      .then((r) => r.json())
      .then((s) => {
        apply(s);
        if (!s.ended) setTimeout(poll, mode === "live" ? pollMs : 2 * pollMs);
      })
      .catch(() => {
        if (mode === "live" && !ended) {
          $("status").textContent = "run stopped";
          $("status").classList.add("ended");
        }
      });
  }

  $("scrub").addEventListener("input", (ev) => {
    const k = Number(ev.target.value);
    follow = k === frames.length - 1;
    showFrame(k);
  });
  for (const r of document.querySelectorAll('input[name="axis"]')) {
    r.addEventListener("change", () => { axis = r.value; drawPlot(); });
  }
  $("portrait").addEventListener("load", () => {
    const img = $("portrait");
    img.dataset.loads = String(Number(img.dataset.loads || 0) + 1);
  });
  poll();
})();
