// The browser monitoring wall: layout from the wall definition, one WebSocket for all tiles, overlays,
// offline state, click to enlarge (higher rate, PTZ), tour rotation. No external assets.
"use strict";

const I18N = {
  "zh-CN": {
    title: "监控墙", connecting: "连接中…", open: "已连接", closed: "连接断开，正在重连…",
    token: "访问令牌", enter: "进入", badToken: "令牌无效", online: "在线", offline: "离线",
    back: "返回墙面", allCameras: "全部摄像机", tour: "轮巡", up: "上", down: "下", left: "左",
    right: "右", zoomIn: "放大", zoomOut: "缩小", noWall: "没有可显示的墙面", switchLang: "English",
  },
  en: {
    title: "Monitoring wall", connecting: "Connecting…", open: "Connected", closed: "Disconnected, reconnecting…",
    token: "Access token", enter: "Enter", badToken: "Invalid token", online: "online", offline: "offline",
    back: "Back to the wall", allCameras: "All cameras", tour: "Tour", up: "Up", down: "Down", left: "Left",
    right: "Right", zoomIn: "Zoom in", zoomOut: "Zoom out", noWall: "No wall to show", switchLang: "中文",
  },
};

const state = {
  lang: localStorage.getItem("hallmesh.lang") === "en" ? "en" : "zh-CN",
  token: "",
  wallId: null,
  layout: null,        // {cells: [{x,y,w,h}], groups: [[{id,label}]], dwell_s}
  groupIndex: -1,
  cells: [],           // per cell: {el, canvas, ctx, camera, busy, next, frames, ts, status, info}
  ws: null,
  retry: 500,
  enlarged: null,      // cell index shown enlarged
  zoomCtx: null,
};

const $ = (sel) => document.querySelector(sel);
const t = (key) => (I18N[state.lang] && I18N[state.lang][key]) || I18N["zh-CN"][key] || key;

function applyI18n() {
  document.documentElement.lang = state.lang;
  document.title = `${t("title")} · hallmesh`;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  $("#lang").textContent = t("switchLang");
  setConn($("#conn").dataset.state);
  for (const cell of state.cells) renderOverlay(cell);
  renderTour();
  const all = $("#wall-select option[value='all']");
  if (all) all.textContent = t("allCameras");
}

function setConn(s) {
  const el = $("#conn");
  el.dataset.state = s;
  el.textContent = t(s === "open" ? "open" : s === "closed" ? "closed" : "connecting");
}

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${state.token}`, ...(options.headers || {}) };
  const resp = await fetch(path, { ...options, headers });
  if (resp.status === 401) throw new Error("unauthorized");
  if (!resp.ok) throw new Error(`${resp.status} ${path}`);
  return resp.status === 204 ? null : resp.json();
}

// -- walls and layout ----------------------------------------------------------------------------------------

function autoLayout(cameras) {
  const n = Math.max(cameras.length, 1);
  const cols = Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  const cells = [];
  for (let i = 0; i < rows * cols; i++) {
    cells.push({ x: (i % cols) / cols, y: Math.floor(i / cols) / rows, w: 1 / cols, h: 1 / rows });
  }
  return { cells, groups: [cameras.map((c) => ({ id: c.id, label: c.name }))], dwell_s: null };
}

async function loadWalls() {
  const walls = await api("/api/v1/wall/walls");
  const select = $("#wall-select");
  select.textContent = "";
  for (const w of walls.data) select.add(new Option(w.name, String(w.id)));
  select.add(new Option(t("allCameras"), "all"));
  const wanted = new URLSearchParams(location.search).get("wall");
  const ids = walls.data.map((w) => String(w.id));
  select.value = wanted && (ids.includes(wanted) || wanted === "all") ? wanted : ids[0] || "all";
  select.onchange = () => {
    const url = new URL(location.href);
    url.searchParams.set("wall", select.value);
    history.replaceState(null, "", url);
    showWall(select.value);
  };
  await showWall(select.value);
}

async function showWall(id) {
  state.wallId = id;
  state.layout = id === "all"
    ? autoLayout((await api("/api/v1/wall/cameras")).data)
    : await api(`/api/v1/wall/walls/${encodeURIComponent(id)}/layout`);
  buildGrid(state.layout.cells);
  state.groupIndex = -1;
  closeZoom(false);
  rotate();
}

function buildGrid(cells) {
  const grid = $("#grid");
  grid.textContent = "";
  state.cells = cells.map((c, index) => {
    const el = document.createElement("div");
    el.className = "cell empty";
    el.dataset.index = String(index);
    el.dataset.status = "offline";
    el.dataset.frames = "0";
    Object.assign(el.style, { left: `${c.x * 100}%`, top: `${c.y * 100}%`, width: `${c.w * 100}%`, height: `${c.h * 100}%` });
    el.innerHTML = `<div class="frame"><canvas width="640" height="360"></canvas>
      <div class="overlay top"><span class="name"></span><span class="point"></span></div>
      <div class="overlay bottom"><span class="status"></span><span class="time"></span></div></div>`;
    const canvas = el.querySelector("canvas");
    const cell = { el, canvas, ctx: canvas.getContext("2d"), camera: null, busy: false, next: null, frames: 0,
      ts: null, status: "offline", info: null };
    el.addEventListener("click", () => openZoom(index));
    grid.appendChild(el);
    return cell;
  });
}

// tours: every browser (and the splice panels) computes the same group from the clock
function rotate() {
  const layout = state.layout;
  if (!layout) return;
  const groups = layout.groups.length ? layout.groups : [[]];
  const index = layout.dwell_s && groups.length > 1
    ? Math.floor(Date.now() / 1000 / layout.dwell_s) % groups.length : 0;
  if (index === state.groupIndex) return;
  state.groupIndex = index;
  const group = groups[index];
  state.cells.forEach((cell, i) => {
    const cam = group[i] || null;
    cell.camera = cam;
    cell.info = cam ? { name: cam.label || cam.id.split("/")[1], service_point: cam.id.split("/")[0], ptz: false } : null;
    cell.frames = 0;
    cell.ts = null;
    cell.el.dataset.camera = cam ? cam.id : "";
    cell.el.dataset.frames = "0";
    cell.el.classList.toggle("empty", !cam);
    cell.ctx.fillStyle = "#000";
    cell.ctx.fillRect(0, 0, cell.canvas.width, cell.canvas.height);
    setStatus(cell, "offline");
  });
  renderTour();
  subscribe();
}

function renderTour() {
  const el = $("#tour");
  const layout = state.layout;
  const n = layout ? layout.groups.length : 0;
  el.hidden = !(layout && layout.dwell_s && n > 1);
  if (!el.hidden) el.textContent = `${t("tour")} ${state.groupIndex + 1}/${n}`;
}

// -- overlays -----------------------------------------------------------------------------------------------

function fmtTime(ms) {
  if (!ms) return "";
  return new Date(ms).toLocaleTimeString(state.lang === "en" ? "en-GB" : "zh-CN", { hour12: false });
}

function renderOverlay(cell) {
  const info = cell.info;
  cell.el.querySelector(".name").textContent = info ? info.name : "";
  cell.el.querySelector(".point").textContent = info ? info.service_point : "";
  cell.el.querySelector(".status").textContent = info ? t(cell.status) : "";
  cell.el.querySelector(".time").textContent = fmtTime(cell.ts);
  if (state.enlarged !== null && state.cells[state.enlarged] === cell) renderZoomOverlay();
}

function setStatus(cell, status) {
  cell.status = status;
  cell.el.dataset.status = status;
  renderOverlay(cell);
}

// -- the socket ---------------------------------------------------------------------------------------------

function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/api/v1/wall/ws?token=${encodeURIComponent(state.token)}`);
  ws.binaryType = "blob";
  state.ws = ws;
  setConn("connecting");
  ws.onopen = () => {
    state.retry = 500;
    setConn("open");
    subscribe();
    if (state.enlarged !== null) send({ type: "enlarge", index: state.enlarged });
  };
  ws.onmessage = (ev) => (typeof ev.data === "string" ? onJson(JSON.parse(ev.data)) : onTile(ev.data));
  ws.onclose = () => {
    if (state.ws !== ws) return;
    setConn("closed");
    for (const cell of state.cells) if (cell.camera) setStatus(cell, "offline");
    setTimeout(connect, state.retry);
    state.retry = Math.min(state.retry * 2, 10000);
  };
}

function send(msg) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(msg));
}

function subscribe() {
  const cams = state.cells.filter((c) => c.camera).map((c) => ({ id: c.camera.id, label: c.camera.label || "" }));
  state.subscribed = state.cells.map((c) => (c.camera ? c : null)).filter(Boolean);
  send({ type: "subscribe", cameras: cams });
}

function onJson(msg) {
  if (msg.type === "cameras") {
    for (const c of msg.cameras) {
      const cell = state.subscribed && state.subscribed[c.index];
      if (!cell) continue;
      cell.info = { name: c.name, service_point: c.service_point, ptz: c.ptz };
      setStatus(cell, c.status);
    }
  } else if (msg.type === "status") {
    const cell = state.subscribed && state.subscribed[msg.index];
    if (cell) setStatus(cell, msg.status);
  } else if (msg.type === "error") {
    console.warn("wall:", msg.detail);
  }
}

async function onTile(blob) {
  const head = new DataView(await blob.slice(0, 10).arrayBuffer());
  const index = head.getUint16(0);
  const ts = Number(head.getBigUint64(2));
  const cell = state.subscribed && state.subscribed[index];
  if (!cell) return;
  draw(cell, ts, blob.slice(10, blob.size, "image/jpeg"));
}

// latest wins in the browser too: while a tile is being decoded, only the newest next one is kept
function draw(cell, ts, jpeg) {
  if (cell.busy) {
    cell.next = { ts, jpeg };
    return;
  }
  cell.busy = true;
  createImageBitmap(jpeg).then((bmp) => {
    cell.ctx.drawImage(bmp, 0, 0, cell.canvas.width, cell.canvas.height);
    if (state.enlarged !== null && state.cells[state.enlarged] === cell) {
      const z = state.zoomCtx;
      z.drawImage(bmp, 0, 0, z.canvas.width, z.canvas.height);
    }
    bmp.close();
    cell.frames += 1;
    cell.ts = ts;
    cell.el.dataset.frames = String(cell.frames);
    cell.el.dataset.ts = String(ts);
    if (cell.status !== "online") setStatus(cell, "online"); else renderOverlay(cell);
  }).catch((err) => console.warn("wall: undecodable tile", err)).finally(() => {
    cell.busy = false;
    const next = cell.next;
    cell.next = null;
    if (next) draw(cell, next.ts, next.jpeg);
  });
}

// -- enlarged view and PTZ ----------------------------------------------------------------------------------

function openZoom(index) {
  const cell = state.cells[index];
  if (!cell || !cell.camera) return;
  state.enlarged = index;
  const z = state.zoomCtx;
  z.drawImage(cell.canvas, 0, 0, z.canvas.width, z.canvas.height);
  $("#zoom").hidden = false;
  $("#zoom").dataset.camera = cell.camera.id;
  renderZoomOverlay();
  const sub = state.subscribed ? state.subscribed.indexOf(cell) : -1;
  if (sub >= 0) send({ type: "enlarge", index: sub });
}

function renderZoomOverlay() {
  const cell = state.cells[state.enlarged];
  const zoom = $("#zoom");
  if (!cell || !cell.info) return;
  zoom.querySelector(".name").textContent = cell.info.name;
  zoom.querySelector(".point").textContent = cell.info.service_point;
  zoom.querySelector(".status").textContent = t(cell.status);
  zoom.querySelector(".time").textContent = fmtTime(cell.ts);
  zoom.dataset.status = cell.status;
  $("#ptz").hidden = !cell.info.ptz;
}

function closeZoom(tell = true) {
  if (state.enlarged === null) return;
  state.enlarged = null;
  $("#zoom").hidden = true;
  if (tell) send({ type: "enlarge", index: null });
}

async function ptz(action, args) {
  const cell = state.cells[state.enlarged];
  if (!cell || !cell.camera) return;
  const [agent, device] = cell.camera.id.split("/");
  try {
    await api(`/api/v1/agents/${encodeURIComponent(agent)}/devices/${encodeURIComponent(device)}/commands`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ action, args, ttl_s: 5 }),
    });
  } catch (err) {
    console.warn("wall: PTZ command failed", err);
  }
}

function setupPtz() {
  for (const btn of document.querySelectorAll("[data-ptz]")) {
    const [pan, tilt, zoom] = btn.dataset.ptz.split(",").map(Number);
    let moving = false;
    btn.addEventListener("pointerdown", () => {
      moving = true;
      ptz("ptz_move", { pan: pan * 0.5, tilt: tilt * 0.5, zoom: zoom * 0.5 });
    });
    const stop = () => {
      if (!moving) return;
      moving = false;
      ptz("ptz_stop", {});
    };
    btn.addEventListener("pointerup", stop);
    btn.addEventListener("pointerleave", stop);
  }
}

// -- start --------------------------------------------------------------------------------------------------

async function start() {
  try {
    await loadWalls();
  } catch (err) {
    if (String(err.message) === "unauthorized") {
      sessionStorage.removeItem("hallmesh.token");
      showLogin(t("badToken"));
      return;
    }
    throw err;
  }
  $("#login").hidden = true;
  connect();
  setInterval(rotate, 1000);
}

function showLogin(error = "") {
  $("#login").hidden = false;
  $("#login-error").textContent = error;
}

function main() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) {
    sessionStorage.setItem("hallmesh.token", fromHash);
    history.replaceState(null, "", location.pathname + location.search);
  }
  state.token = sessionStorage.getItem("hallmesh.token") || "";
  state.zoomCtx = $("#zoom-canvas").getContext("2d");
  $("#lang").addEventListener("click", () => {
    state.lang = state.lang === "en" ? "zh-CN" : "en";
    localStorage.setItem("hallmesh.lang", state.lang);
    applyI18n();
  });
  $("#zoom-close").addEventListener("click", () => closeZoom());
  document.addEventListener("keydown", (ev) => { if (ev.key === "Escape") closeZoom(); });
  $("#login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.token = $("#token").value.trim();
    sessionStorage.setItem("hallmesh.token", state.token);
    start();
  });
  setupPtz();
  applyI18n();
  if (state.token) start(); else showLogin();
}

main();
