/* Stats boards (内网门户) over /api/v1/stats (same origin, staff JWT in sessionStorage, shared with the staff app).
 * Refreshed every 60 s (`?refresh=N` seconds for tests, at least 1); the trend is an inline SVG drawn here.
 * Every text from the API goes into the page with textContent, never as HTML. */
"use strict";

const API = "/api/v1";
const TOKEN_KEY = "hallmesh.staff.token";
const LANG_KEY = "hallmesh.lang";
const SVG = "http://www.w3.org/2000/svg";
const COUNTS = ["accepted", "concluded", "on_time", "overdue", "yellow_cards", "red_cards"];
const SERIES = [["accepted", "s0"], ["concluded", "s1"], ["overdue", "s2"]];
const COLORS = { s0: "#0b57d0", s1: "#1e7b34", s2: "#b3261e" };

const TEXT = {
  zh: {
    title: "办件统计看板", logout: "退出", signIn: "工作人员登录", employeeNo: "工号", password: "密码",
    signInButton: "登录", from: "开始日期", to: "结束日期", show: "查询", updated: "更新于", accepted: "受理",
    concluded: "办结", onTime: "按时办结", overdue: "超期", yellow: "黄牌", red: "红牌", trend: "近 30 日趋势",
    perUnit: "各单位、部门办件", unit: "单位", department: "部门", rate: "按时率", ranking: "超期排行",
    honor: "光荣榜", exposure: "曝光台", none: "暂无", switchTo: "English", loginFailed: "工号或密码错误",
    failed: "加载失败，稍后自动重试", noDept: "—",
    honorRule: (r) => `按时率 ≥ ${pct(r.honor_min_on_time_rate)}，且办结 ≥ ${r.honor_min_concluded} 件`,
    exposureRule: (r) => `超期 ≥ ${r.exposure_min_overdue} 件，或红牌 ≥ ${r.exposure_min_red_cards} 张`,
    entry: (u) => `超期 ${u.overdue}，红牌 ${u.red_cards}`, honorEntry: (u) => `按时率 ${pct(u.on_time_rate)}（办结 ${u.concluded}）`,
    series: { accepted: "受理", concluded: "办结", overdue: "超期" },
  },
  en: {
    title: "Case statistics", logout: "Sign out", signIn: "Staff sign-in", employeeNo: "Employee no.",
    password: "Password", signInButton: "Sign in", from: "From", to: "To", show: "Show", updated: "Updated",
    accepted: "Accepted", concluded: "Concluded", onTime: "On time", overdue: "Overdue", yellow: "Yellow cards",
    red: "Red cards", trend: "Last 30 days", perUnit: "By unit and department", unit: "Unit",
    department: "Department", rate: "On-time rate", ranking: "Overdue ranking", honor: "Honor roll",
    exposure: "Exposure board", none: "None", switchTo: "中文", loginFailed: "Wrong employee number or password",
    failed: "Loading failed; retrying automatically", noDept: "—",
    honorRule: (r) => `on-time rate ≥ ${pct(r.honor_min_on_time_rate)} with ≥ ${r.honor_min_concluded} concluded`,
    exposureRule: (r) => `≥ ${r.exposure_min_overdue} overdue or ≥ ${r.exposure_min_red_cards} red cards`,
    entry: (u) => `${u.overdue} overdue, ${u.red_cards} red`, honorEntry: (u) => `${pct(u.on_time_rate)} on time (${u.concluded})`,
    series: { accepted: "Accepted", concluded: "Concluded", overdue: "Overdue" },
  },
};

let lang = localStorage.getItem(LANG_KEY) === "en" ? "en" : "zh";
let last = null;
const $ = (id) => document.getElementById(id);
const t = (key) => TEXT[lang][key];

function pct(x) {
  return x === null || x === undefined ? "—" : `${(x * 100).toFixed(1)}%`;
}

function today() {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date());
  return parts; // YYYY-MM-DD
}

function shift(day, days) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

async function api(path, init = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = { ...(init.headers || {}), ...(token ? { Authorization: `Bearer ${token}` } : {}) };
  const r = await fetch(API + path, { ...init, headers });
  if (r.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    show();
    throw new Error("unauthorized");
  }
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  return r.json();
}

function applyText() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.title = t("title");
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  $("lang").textContent = t("switchTo");
  $("lang").lang = lang === "zh" ? "en" : "zh-CN";
  if (last) render(last);
}

function show() {
  const signedIn = Boolean(sessionStorage.getItem(TOKEN_KEY));
  $("login").hidden = signedIn;
  $("boards").hidden = !signedIn;
  $("logout").hidden = !signedIn;
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
}

function renderTable(page) {
  const body = $("daily").tBodies[0];
  body.replaceChildren();
  for (const u of page.rows) {
    const tr = document.createElement("tr");
    tr.dataset.unit = String(u.unit_id);
    cell(tr, u.unit_name);
    cell(tr, u.department_name || t("noDept"));
    for (const k of ["accepted", "concluded", "on_time"]) cell(tr, String(u[k]), `num ${k}`);
    cell(tr, pct(u.on_time_rate), "num rate");
    for (const k of ["overdue", "yellow_cards", "red_cards"]) cell(tr, String(u[k]), `num ${k}`);
    body.appendChild(tr);
  }
}

function renderBoard(id, board, describe) {
  const ol = $(id);
  ol.replaceChildren();
  for (const u of board.rows) {
    const li = document.createElement("li");
    li.textContent = `${u.unit_name}${u.department_name ? ` · ${u.department_name}` : ""}：${describe(u)}`;
    ol.appendChild(li);
  }
  if (!board.rows.length) {
    const li = document.createElement("li");
    li.className = "empty";
    li.textContent = t("none");
    ol.appendChild(li);
  }
}

function el(name, attrs, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function renderTrend(trend) {
  const W = 720, H = 220, L = 36, R = 8, T = 10, B = 26;
  const pts = trend.points;
  const max = Math.max(1, ...pts.flatMap((p) => SERIES.map(([k]) => p[k])));
  const x = (i) => L + (pts.length > 1 ? (i * (W - L - R)) / (pts.length - 1) : 0);
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, "aria-label": t("trend") });
  for (const frac of [0, 0.5, 1]) {
    const v = Math.round(max * frac);
    svg.appendChild(el("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#d8dee4" }));
    svg.appendChild(el("text", { x: L - 4, y: y(v) + 4, "text-anchor": "end", "font-size": 11, fill: "#5b6670" }, String(v)));
  }
  pts.forEach((p, i) => {
    if ((i % 7 === 0 && pts.length - 1 - i >= 3) || i === pts.length - 1) {  // the last day's label stands alone
      const anchor = i === pts.length - 1 && i > 0 ? "end" : "middle";  // the last day at the right edge, not cut
      svg.appendChild(el("text", { x: x(i), y: H - 8, "text-anchor": anchor, "font-size": 11, fill: "#5b6670" }, p.day.slice(5)));
    }
  });
  for (const [key, cls] of SERIES) {
    const d = pts.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(p[key]).toFixed(1)}`).join(" ");
    svg.appendChild(el("path", { d, fill: "none", stroke: COLORS[cls], "stroke-width": 2, class: `series-${key}` }));
  }
  $("trend").replaceChildren(svg);
  const legend = $("legend");
  legend.replaceChildren();
  for (const [key, cls] of SERIES) {
    const span = document.createElement("span");
    const sw = document.createElement("i");
    sw.className = `swatch ${cls}`;
    span.append(sw, document.createTextNode(t("series")[key]));
    legend.appendChild(span);
  }
}

function render(data) {
  for (const k of COUNTS) $(`total-${k}`).textContent = String(data.daily.total[k]);
  renderTable(data.daily);
  renderTrend(data.trend);
  renderBoard("overdue", data.overdue, t("entry"));
  renderBoard("honor", data.honor, t("honorEntry"));
  renderBoard("exposure", data.exposure, t("entry"));
  $("honor-rule").textContent = t("honorRule")(data.honor.rules);
  $("exposure-rule").textContent = t("exposureRule")(data.exposure.rules);
  $("updated").textContent = new Date().toLocaleTimeString(lang === "zh" ? "zh-CN" : "en-GB");
}

async function refresh() {
  if (!sessionStorage.getItem(TOKEN_KEY)) return;
  const from = $("from").value || today();
  const to = $("to").value || today();
  const q = `from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
  try {
    const [daily, trend, overdue, honor, exposure] = await Promise.all([
      api(`/stats/daily?${q}`),
      api(`/stats/trend?from=${shift(to, -29)}&to=${encodeURIComponent(to)}`),
      api(`/stats/overdue?${q}`),
      api(`/stats/honor?${q}`),
      api(`/stats/exposure?${q}`),
    ]);
    last = { daily, trend, overdue, honor, exposure };
    render(last);
    document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
  } catch (err) {
    if (err.message !== "unauthorized") $("updated").textContent = t("failed");
  }
}

async function signIn(ev) {
  ev.preventDefault();
  $("login-error").textContent = "";
  const body = { employee_no: $("employee-no").value, password: $("password").value };
  const r = await fetch(`${API}/auth/login`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  if (!r.ok) {
    $("login-error").textContent = t("loginFailed");
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, (await r.json()).access_token);
  show();
  await refresh();
}

function start() {
  $("from").value = today();
  $("to").value = today();
  $("login").addEventListener("submit", signIn);
  $("period").addEventListener("submit", (ev) => { ev.preventDefault(); refresh(); });
  $("logout").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); last = null; show(); });
  $("lang").addEventListener("click", () => {
    lang = lang === "zh" ? "en" : "zh";
    localStorage.setItem(LANG_KEY, lang);
    applyText();
  });
  const every = Math.max(1, Number(new URLSearchParams(location.search).get("refresh")) || 60);
  setInterval(refresh, every * 1000);
  applyText();
  show();
  refresh();
}

start();
