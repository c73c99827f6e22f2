// turnout dashboard: plain JavaScript, no build step, nothing loaded from elsewhere.
// Reads /api/v1/* with the session cookie; live data comes from /api/v1/events (server-sent events).
"use strict";

const COLORS = { blue: "#2f6fde", green: "#1c9a52" };
const WINDOW_S = 300; // seconds of traffic the charts show
const state = { who: null, status: null, points: [], audit: [], ops: [], source: null };

const $ = (sel) => document.querySelector(sel);
const text = (el, value) => { el.textContent = value === null || value === undefined ? "–" : String(value); };
const when = (t) => new Date(t * 1000).toLocaleTimeString();

async function call(method, path, body) {
  const headers = { "X-Turnout-Request": "1" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(data.message || `HTTP ${resp.status}`);
  return data;
}

// -- sign in ---------------------------------------------------------------------------------------
async function start() {
  try {
    state.who = await call("GET", "/api/v1/whoami");
  } catch (err) {
    $("#login").hidden = false;
    $("#main").hidden = true;
    return;
  }
  $("#login").hidden = true;
  $("#main").hidden = false;
  text($("#whoami"), `${state.who.name} (${state.who.role})`);
  for (const el of document.querySelectorAll(".operator-only")) el.hidden = state.who.role !== "operator";
  await Promise.all([loadHistory(), loadOperations(), loadTraffic()]);
  connect();
}

$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    await call("POST", "/api/v1/session", { token: $("#token").value.trim() });
    $("#token").value = "";
    await start();
  } catch (err) {
    text($("#login-error"), err.message);
  }
});

$("#signout").addEventListener("click", async () => {
  await call("DELETE", "/api/v1/session").catch(() => {});
  if (state.source) state.source.close();
  location.reload();
});

// -- live data -------------------------------------------------------------------------------------
function connect() {
  const source = new EventSource("/api/v1/events");
  state.source = source;
  source.addEventListener("status", (ev) => { state.status = JSON.parse(ev.data); renderStatus(); });
  source.addEventListener("traffic", (ev) => {
    const cutoff = Date.now() / 1000 - WINDOW_S;
    state.points = state.points.concat(JSON.parse(ev.data)).filter((p) => p.at >= cutoff);
    renderCharts();
  });
  source.addEventListener("audit", (ev) => {
    state.audit.push(JSON.parse(ev.data));
    renderHistory();
    renderTimeline();
    loadOperations();
  });
  source.onopen = () => text($("#connection"), "live");
  source.onerror = () => text($("#connection"), "reconnecting…");
}

async function loadHistory() {
  state.audit = await call("GET", "/api/v1/history?limit=500");
  renderHistory();
}

async function loadOperations() {
  state.ops = await call("GET", "/api/v1/operations");
  const select = $("#timeline-op");
  const chosen = select.value;
  select.replaceChildren(...state.ops.map((op) => {
    const o = document.createElement("option");
    o.value = op.id;
    o.textContent = `${op.id} ${op.kind} ${op.version || ""} (${op.state})`;
    return o;
  }));
  if (chosen && state.ops.some((op) => op.id === chosen)) select.value = chosen;
  renderTimeline();
}

async function loadTraffic() {
  state.points = await call("GET", `/api/v1/traffic?since=${Date.now() / 1000 - WINDOW_S}`);
  renderCharts();
}

// -- rendering -------------------------------------------------------------------------------------
function renderStatus() {
  const s = state.status;
  if (!s) return;
  text($("#app-name"), s.app);
  text($("#phase"), s.phase);
  for (const color of ["blue", "green"]) {
    const env = s.environments[color];
    const card = $(`#env-${color}`);
    card.classList.toggle("live", s.active === color);
    const fields = {
      role: s.active === color ? "live" : "idle",
      version: env.version, running_version: env.running_version,
      instances: `${env.healthy}/${env.instances} healthy`, warm: env.warm ? "yes" : "no",
      serving: s.router.serving ? `${s.router.serving[color]} %` : "router unreachable",
    };
    for (const [key, value] of Object.entries(fields)) text(card.querySelector(`[data-field="${key}"]`), value);
  }
  text($("#router-kind"), s.router.kind);
  text($("#test-color"), s.router.test);
  text($("#drift"), s.drift || (s.drifts && s.drifts.length) ? (s.drifts || []).map((d) => d.what).join(", ") || "yes" : "none");
  text($("#rollback-until"), s.rollback_ready_until ? new Date(s.rollback_ready_until * 1000).toLocaleString() : "–");
  text($("#bad"), (s.bad || []).join(", ") || "none");
  const op = s.operation;
  text($("#operation"), op ? `${op.id}: ${op.kind} ${op.version || ""} — ${op.state}, step ${op.step}`
    + (op.gate ? ` (waiting at ${op.gate})` : "") + (op.message ? ` — ${op.message}` : "") : "none running");
  if (op && !$("#timeline-op").value) loadOperations();
  renderChecks();
  const acting = state.who && state.who.role === "operator";
  $("#btn-promote").disabled = !acting || !(s.phase === "validate" && !op) && !(op && op.step === "canary");
  $("#btn-approve").disabled = !acting || !(op && op.step === "gate");
  $("#btn-abort").disabled = !acting || !(op || s.phase === "validate");
}

function evidenceOf(events) {
  const rows = [];
  for (const e of events) {
    for (const ev of e.evidence || []) {
      if (ev.kind === "measurement") rows.push(ev.measurement);
      if (ev.kind === "trigger") rows.push(...ev.judgements);
    }
  }
  return rows;
}

function opEvents(opId) {
  const op = state.ops.find((o) => o.id === opId);
  if (!op) return [];
  const end = op.state === "running" ? Infinity : op.updated_at + 1;
  return state.audit.filter((e) => e.at >= op.created_at - 1 && e.at <= end);
}

function renderChecks() {
  const opId = (state.status && state.status.operation && state.status.operation.id) || $("#timeline-op").value;
  const body = $("#checks tbody");
  body.replaceChildren(...evidenceOf(opEvents(opId)).map((m) => {
    const tr = document.createElement("tr");
    for (const [value, cls] of [[m.check], [m.verdict, m.verdict], [m.value], [m.detail]]) {
      const td = document.createElement("td");
      text(td, typeof value === "number" ? Math.round(value * 10000) / 10000 : value);
      if (cls) td.className = cls;
      tr.append(td);
    }
    return tr;
  }));
}

function renderTimeline() {
  const list = $("#timeline");
  list.replaceChildren(...opEvents($("#timeline-op").value).map((e) => {
    const li = document.createElement("li");
    li.textContent = `${when(e.at)} ${e.action} ${e.outcome}${e.to ? " → " + e.to : ""}: ${e.reason}`;
    return li;
  }));
  renderChecks();
}

function renderHistory() {
  const f = { action: $("#filter-action").value.trim(), outcome: $("#filter-outcome").value.trim(),
    actor: $("#filter-actor").value.trim().toLowerCase() };
  const rows = state.audit.filter((e) => (!f.action || e.action === f.action)
    && (!f.outcome || e.outcome === f.outcome) && (!f.actor || e.actor.toLowerCase().includes(f.actor)));
  $("#history tbody").replaceChildren(...rows.slice(-200).reverse().map((e) => {
    const tr = document.createElement("tr");
    for (const value of [when(e.at), e.actor, e.action, e.outcome, e.from || e.to ? `${e.from || ""}→${e.to || ""}` : "", e.reason]) {
      const td = document.createElement("td");
      text(td, value);
      tr.append(td);
    }
    return tr;
  }));
}

for (const id of ["#filter-action", "#filter-outcome", "#filter-actor"]) $(id).addEventListener("input", renderHistory);
$("#timeline-op").addEventListener("change", renderTimeline);

function series(metric) {
  const out = { blue: [], green: [] };
  for (const p of state.points) {
    const rps = p.seconds > 0 ? p.requests / p.seconds : 0;
    const value = metric === "rps" ? rps : metric === "errors" ? (p.requests ? p.errors / p.requests : 0)
      : p.p99 === null ? null : p.p99 * 1000;
    out[p.color].push([p.at, value]);
  }
  return out;
}

function draw(canvas, data, format) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = 28;
  ctx.clearRect(0, 0, w, h);
  const now = Date.now() / 1000;
  const values = [...data.blue, ...data.green].map((d) => d[1]).filter((v) => v !== null);
  const top = Math.max(1e-9, ...values) * 1.15;
  ctx.fillStyle = "#6b7280";
  ctx.font = "10px system-ui";
  ctx.fillText(format(top), 2, 10);
  ctx.fillText("0", 2, h - 4);
  for (const color of ["blue", "green"]) {
    ctx.strokeStyle = COLORS[color];
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    let drawing = false;
    for (const [at, v] of data[color]) {
      if (v === null) { drawing = false; continue; }
      const x = pad + (w - pad - 4) * (1 - (now - at) / WINDOW_S);
      const y = h - 14 - (h - 24) * (v / top);
      if (drawing) ctx.lineTo(x, y); else ctx.moveTo(x, y);
      drawing = true;
    }
    ctx.stroke();
  }
}

function renderCharts() {
  draw($("#chart-rps"), series("rps"), (v) => v.toFixed(0));
  draw($("#chart-errors"), series("errors"), (v) => (v * 100).toFixed(1) + "%");
  draw($("#chart-p99"), series("p99"), (v) => v.toFixed(1));
  const latest = {};
  for (const p of state.points) latest[p.color] = p;
  text($("#live-rates"), ["blue", "green"].filter((c) => latest[c]).map((c) => {
    const p = latest[c];
    return `${c}: ${(p.requests / (p.seconds || 1)).toFixed(0)} req/s, ${p.requests ? (100 * p.errors / p.requests).toFixed(1) : "0.0"}% errors, p99 ${p.p99 === null ? "–" : (p.p99 * 1000).toFixed(1) + " ms"}, ${p.weight}% of traffic`;
  }).join(" · "));
}

// -- actions (operators) ---------------------------------------------------------------------------
function action(id, command, question) {
  $(id).addEventListener("click", async () => {
    if (!confirm(question)) return;
    text($("#action-result"), `${command}…`);
    try {
      const result = await call("POST", `/api/v1/${command}`, { reason: "from the dashboard" });
      text($("#action-result"), result.operation ? `${command}: ${result.operation} started`
        : result.message || `${command}: ${result.active || ""} serves all traffic`);
    } catch (err) {
      text($("#action-result"), `${command} refused: ${err.message}`);
    }
  });
}
action("#btn-rollback", "rollback", "Roll back: switch all traffic to the previous color?");
action("#btn-abort", "abort", "Abort what is running?");
action("#btn-approve", "approve", "Open the gate the operation waits at?");
$("#btn-promote").addEventListener("click", async () => {
  if (!confirm("Promote: switch traffic to the validated release?")) return;
  try {
    const r = await call("POST", "/api/v1/promote", {});
    text($("#action-result"), `promote: ${r.operation} started`);
  } catch (err) {
    text($("#action-result"), `promote refused: ${err.message}`);
  }
});

start();
