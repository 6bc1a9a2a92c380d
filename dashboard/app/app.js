/* Staff web app: sign-in, the clerk's counter workstation, work queues with case detail and decisions, and the
 * technician's window/device view — over the staff API on the same origin with the JWT kept in sessionStorage.
 * Every text from the API is put into the page with textContent / createTextNode, never as HTML. */
"use strict";

const TOKEN_KEY = "hallmesh.staff.token";
const LANG_KEY = "hallmesh.lang";
const POLL_MS = 1000;

const TEXT = {
  zh: {
    title: "政务服务工作台", navCounter: "受理窗口", navQueue: "待办", navTech: "设备", navCatalog: "事项目录",
    navWall: "监控墙", signOut: "退出", signInHeading: "工作人员登录", employeeNo: "工号", password: "密码",
    signIn: "登录", badLogin: "工号或密码错误，或账号已锁定", window: "窗口", newCase: "新建办件", item: "事项",
    caseTitle: "办件名称", applicant: "申请人", idNumber: "证件号码", create: "开始办件", openCase: "打开办件",
    findCase: "办件编号、申请人或名称", search: "查找", photo: "拍照", scan: "扫描", sign: "签名", checklist: "材料清单",
    accept: "受理", supplementNote: "补正说明", requestSupplement: "一次性告知补正", preview: "高拍仪预览",
    noPreview: "预览不可用", materials: "材料", queueHeading: "我的待办", yellowLegend: "黄牌：即将到期",
    redLegend: "红牌：已超期", caseCode: "办件编号", step: "环节", due: "到期", state: "状态", queueEmpty: "没有待办",
    back: "← 返回待办", decision: "审查决定", opinion: "意见", approve: "同意", deny: "不同意", tasks: "环节与时限",
    timeline: "办理过程", techHeading: "窗口设备",
    techNote: "显示本人权限范围内各窗口终端及设备的实时状态；技术人员可对设备发送测试命令（打印测试页、清屏、预览等）。",
    switchTo: "English", noWindow: "请选择窗口", online: "在线", offline: "离线", lastSeen: "最后心跳",
    lastError: "最近错误", commands: "可用命令", noWindows: "没有可见的窗口", waiting: (k) => `已下发${k}指令，等待设备…`,
    landed: "材料已到达", unassigned: "未归类", print: "打印", printing: "已发送打印", filled: "已提交", missing: "缺",
    optional: "非必要", accepted: "已受理", supplementSent: "已告知补正", decided: "已提交决定", failed: "操作失败",
    signedInAs: (n) => n, promised: "承诺时限", statutory: "法定时限", dueNext: "最近到期", flag: "预警",
    open: "打开", none: "无", signedOut: "已退出",
    states: { submitted: "已提交", prechecking: "预审中", supplement_requested: "待补正", in_progress: "办理中",
      suspended: "特别程序", not_accepted: "不予受理", concluded: "已办结", result_ready: "待领取", delivered: "已送达",
      evaluated: "已评价" },
    kinds: { photo: "照片", scan: "扫描件", signature: "签名", signature_strokes: "签名笔迹", snapshot: "快照", upload: "上传" },
    taskStatus: { open: "待办", done: "已办", cancelled: "已取消", paused: "暂停" },
    flags: { green: "正常", yellow: "黄牌", red: "红牌" },
    devStatus: { up: "正常", down: "故障", degraded: "降级", unknown: "未知" },
    events: { submitted: "提交", accepted: "受理", step_completed: "环节办结", concluded: "办结", material_assigned: "材料归类",
      supplement_requested: "告知补正", not_accepted: "不予受理", result_ready: "结果待领取", delivered: "送达",
      evaluated: "评价", precheck_started: "开始预审", supplemented: "已补正", special_started: "特别程序开始",
      special_ended: "特别程序结束", extended: "延期" },
    deviceNames: { doccam: "拍照", scanner: "扫描", sigpad: "签名" },
    unfiledHeading: "窗口未归档材料", unfiledNote: "未打开办件时在本窗口设备上采集的材料，可归入当前办件。",
    fileAll: "全部归入当前办件", fileOne: "归入当前办件", filed: "已归入办件", test: "测试", testing: "测试中…",
    cmdStatus: { done: "成功", failed: "失败", rejected: "被拒绝", expired: "超时", pending: "未送达", sent: "执行中" },
  },
  en: {
    title: "Service hall workstation", navCounter: "Counter", navQueue: "My tasks", navTech: "Devices",
    navCatalog: "Catalog", navWall: "Wall", signOut: "Sign out", signInHeading: "Staff sign-in",
    employeeNo: "Employee number", password: "Password", signIn: "Sign in",
    badLogin: "Wrong employee number or password, or the account is locked", window: "Window", newCase: "New case",
    item: "Service", caseTitle: "Case title", applicant: "Applicant", idNumber: "ID number", create: "Open case",
    openCase: "Open a case", findCase: "Case code, applicant or title", search: "Find", photo: "Photograph",
    scan: "Scan", sign: "Signature", checklist: "Materials checklist", accept: "Accept", supplementNote: "What is missing",
    requestSupplement: "Request supplements", preview: "Document camera", noPreview: "No preview available",
    materials: "Materials", queueHeading: "My tasks", yellowLegend: "Yellow: due soon", redLegend: "Red: overdue",
    caseCode: "Case", step: "Step", due: "Due", state: "State", queueEmpty: "Nothing to do", back: "← Back to tasks",
    decision: "Decision", opinion: "Opinion", approve: "Approve", deny: "Deny", tasks: "Steps and deadlines",
    timeline: "Timeline", techHeading: "Window devices",
    techNote: "Live state of the counter PCs and devices of the windows within your scope; technicians can send each device a harmless test command (test page, clear, preview …).",
    switchTo: "中文", noWindow: "Choose a window", online: "online", offline: "offline", lastSeen: "Last seen",
    lastError: "Last error", commands: "Commands", noWindows: "No windows visible",
    waiting: (k) => `${k}: command sent, waiting for the device…`, landed: "Material arrived", unassigned: "Unassigned",
    print: "Print", printing: "Sent to the printer", filled: "filled", missing: "missing", optional: "optional",
    accepted: "Accepted", supplementSent: "Supplements requested", decided: "Decision recorded", failed: "Failed",
    signedInAs: (n) => n, promised: "Promised", statutory: "Statutory", dueNext: "Next due", flag: "Flag",
    open: "Open", none: "none", signedOut: "Signed out",
    states: { submitted: "Submitted", prechecking: "Pre-check", supplement_requested: "Supplements requested",
      in_progress: "In progress", suspended: "Suspended", not_accepted: "Not accepted", concluded: "Concluded",
      result_ready: "Result ready", delivered: "Delivered", evaluated: "Evaluated" },
    kinds: { photo: "Photo", scan: "Scan", signature: "Signature", signature_strokes: "Signature strokes",
      snapshot: "Snapshot", upload: "Upload" },
    taskStatus: { open: "open", done: "done", cancelled: "cancelled", paused: "paused" },
    flags: { green: "on time", yellow: "yellow", red: "red" },
    devStatus: { up: "up", down: "down", degraded: "degraded", unknown: "unknown" },
    events: { submitted: "Submitted", accepted: "Accepted", step_completed: "Step completed", concluded: "Concluded",
      material_assigned: "Material assigned", supplement_requested: "Supplements requested",
      not_accepted: "Not accepted", result_ready: "Result ready", delivered: "Delivered", evaluated: "Evaluated",
      precheck_started: "Pre-check", supplemented: "Supplemented", special_started: "Special procedure",
      special_ended: "Special procedure ended", extended: "Extended" },
    deviceNames: { doccam: "Photograph", scanner: "Scan", sigpad: "Signature" },
    unfiledHeading: "Unfiled at this window", unfiledNote: "Captured on this window's devices while no case was open; file them into the current case.",
    fileAll: "File all into the current case", fileOne: "File into the current case", filed: "Filed into the case",
    test: "Test", testing: "Testing…",
    cmdStatus: { done: "done", failed: "failed", rejected: "rejected", expired: "timed out", pending: "not delivered", sent: "running" },
  },
};

let lang = localStorage.getItem(LANG_KEY) === "en" ? "en" : "zh";
const t = (key) => TEXT[lang][key];
const $ = (id) => document.getElementById(id);
const state = { me: null, caseId: null, timer: null, thumbs: new Map(), windows: [] };

/* --- helpers ---------------------------------------------------------------------------------------------- */

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function flash(text, error) {
  const f = $("flash");
  f.textContent = text || "";
  f.className = error ? "flash error" : "flash";
}

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

async function api(path, options) {
  const opts = options || {};
  const headers = { Accept: "application/json" };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  if (opts.json !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, {
    method: opts.method || "GET", headers, cache: "no-store",
    body: opts.json !== undefined ? JSON.stringify(opts.json) : undefined,
  });
  if (r.status === 401 && path !== "/api/v1/auth/login") {
    sessionStorage.removeItem(TOKEN_KEY);
    location.hash = "#/login";
  }
  if (!r.ok) {
    let detail = r.statusText;
    try {
      const body = await r.json();
      detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    } catch (_) { /* not JSON */ }
    throw new ApiError(r.status, detail);
  }
  if (r.status === 204) return null;
  if (opts.blob) return r.blob();
  return r.json();
}

function fail(err) {
  flash(`${t("failed")}：${err.message}`, true);
}

function when(seconds) {
  return seconds ? new Date(seconds * 1000).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB") : "—";
}

function hasRole(...roles) {
  return Boolean(state.me && state.me.roles.some((r) => roles.includes(r)));
}

/* --- language ----------------------------------------------------------------------------------------------- */

function applyLanguage() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.title = t("title");
  for (const node of document.querySelectorAll("[data-i18n]")) {
    const v = TEXT[lang][node.dataset.i18n];
    if (typeof v === "string") node.textContent = v;
  }
  for (const node of document.querySelectorAll("[data-i18n-placeholder]")) {
    node.placeholder = TEXT[lang][node.dataset.i18nPlaceholder];
  }
  const b = $("lang");
  b.textContent = t("switchTo");
  b.lang = lang === "zh" ? "en" : "zh-CN";
}

/* --- routing ------------------------------------------------------------------------------------------------ */

const VIEWS = ["login", "counter", "queue", "case", "tech"];

function show(view) {
  for (const v of VIEWS) $(`${v}-view`).hidden = v !== view;
  $("nav").hidden = view === "login";
  $("signout").hidden = view === "login";
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("here", a.id === `nav-${view}`);
}

function home() {
  if (hasRole("clerk", "center_admin")) return "#/counter";
  if (hasRole("reviewer", "approver", "dept_admin")) return "#/queue";
  return "#/tech";
}

async function route() {
  stopPolling();
  flash("");
  const token = sessionStorage.getItem(TOKEN_KEY);
  const [, view, arg] = (location.hash || "#/").split("/");
  if (!token) {
    show("login");
    return;
  }
  if (!state.me) {
    try {
      state.me = await api("/api/v1/auth/me");
    } catch (err) {
      if (err.status !== 401) fail(err);
      return;
    }
    $("me").textContent = `${state.me.name}（${state.me.employee_no}）`;
  }
  if (!view || view === "login" || !VIEWS.includes(view)) {
    location.replace(home());
    return;
  }
  show(view);
  try {
    if (view === "counter") await showCounter();
    else if (view === "queue") await showQueue();
    else if (view === "case") await showCase(Number(arg));
    else if (view === "tech") await showTech();
  } catch (err) {
    fail(err);
  }
}

/* --- sign-in ------------------------------------------------------------------------------------------------ */

async function signIn(ev) {
  ev.preventDefault();
  $("login-error").textContent = "";
  try {
    const r = await api("/api/v1/auth/login", {
      method: "POST", json: { employee_no: $("employee-no").value.trim(), password: $("password").value },
    });
    sessionStorage.setItem(TOKEN_KEY, r.access_token);
    $("password").value = "";
    state.me = null;
    location.hash = "#/";
    await route();
  } catch (err) {
    $("login-error").textContent = err.status === 401 ? t("badLogin") : `${t("failed")}：${err.message}`;
  }
}

async function signOut() {
  try {
    await api("/api/v1/auth/logout", { method: "POST" });
  } catch (_) { /* the token is dropped anyway */ }
  sessionStorage.removeItem(TOKEN_KEY);
  state.me = null;
  state.caseId = null;
  state.viewCase = null;
  $("current").hidden = true;
  $("preview").removeAttribute("src");  // stop the MJPEG stream
  $("preview").hidden = true;
  $("materials").replaceChildren();
  $("unfiled-box").hidden = true;
  $("me").textContent = "";
  for (const url of state.thumbs.values()) URL.revokeObjectURL(url);
  state.thumbs.clear();
  location.hash = "#/login";
  flash(t("signedOut"));
}

/* --- counter workstation ------------------------------------------------------------------------------------- */

function stopPolling() {
  if (state.timer) clearTimeout(state.timer);
  state.timer = null;
}

async function showCounter() {
  const [windows, items] = await Promise.all([
    api("/api/v1/app/windows"), api("/api/v1/catalog/items?limit=200"),
  ]);
  state.windows = windows;
  const sel = $("window");
  const keep = sel.value || (state.me.window_id ? String(state.me.window_id) : "");
  sel.replaceChildren(el("option", { value: "" }, t("noWindow")));
  for (const w of windows.filter((x) => x.agent_id)) {
    sel.append(el("option", { value: String(w.id) }, `${w.name}（${w.agent_id}）`));
  }
  if (keep && windows.some((w) => String(w.id) === keep)) sel.value = keep;
  else if (windows.filter((x) => x.agent_id).length === 1) sel.value = String(windows.find((x) => x.agent_id).id);
  windowState();
  await pollCase();
  const itemSel = $("item");
  itemSel.replaceChildren();
  for (const item of items.data) {
    const v = item.versions.filter((x) => x.status === "published").pop();
    if (v) itemSel.append(el("option", { value: String(v.id) }, v.name));
  }
}

function windowState() {
  const w = state.windows.find((x) => String(x.id) === $("window").value);
  $("window-state").textContent = w
    ? [w.online ? t("online") : t("offline"),
      ...w.devices.map((d) => `${d.device_id} ${TEXT[lang].devStatus[d.status] || d.status}`)].join(" · ")
    : "";
}

async function createCase(ev) {
  ev.preventDefault();
  const windowId = Number($("window").value);
  if (!windowId) {
    flash(t("noWindow"), true);
    return;
  }
  const itemSel = $("item");
  const title = $("case-title").value.trim() || (itemSel.selectedOptions[0] ? itemSel.selectedOptions[0].textContent : "");
  try {
    const c = await api("/api/v1/cases", {
      method: "POST",
      json: { window_id: windowId, item_version_id: Number(itemSel.value) || null, title,
        applicant_name: $("applicant").value.trim(), applicant_id_number: $("id-number").value.trim() },
    });
    $("new-case").reset();
    await openCase(c.id, false);
  } catch (err) {
    fail(err);
  }
}

async function findCases(ev) {
  ev.preventDefault();
  const q = $("find-q").value.trim();
  try {
    const page = await api(`/api/v1/cases?${new URLSearchParams(q ? { q } : {})}`);
    const list = $("found");
    list.replaceChildren();
    for (const c of page.data) {
      list.append(el("li", {},
        el("button", { type: "button", class: "link", onclick: () => openCase(c.id, true) },
          `${c.code} ${c.title}`), " ", el("span", { class: "muted" }, c.applicant_name)));
    }
  } catch (err) {
    fail(err);
  }
}

async function openCase(id, bringBack) {
  try {
    if (bringBack) await api(`/api/v1/cases/${id}/current`, { method: "POST" });
  } catch (err) {
    if (err.status !== 409) fail(err);
  }
  state.caseId = id;
  $("device-status").textContent = "";
  await pollCase();
  loadPreview();
}

async function pollCase() {
  stopPolling();
  if ($("counter-view").hidden) return;
  try {
    const windowId = Number($("window").value);
    const [detail, unfiled] = await Promise.all([
      state.caseId ? api(`/api/v1/cases/${state.caseId}/detail`) : null,
      windowId ? api(`/api/v1/windows/${windowId}/unfiled`).catch(() => []) : [],  // optional: never hides the case
    ]);
    if (detail) renderCurrent(detail);
    renderUnfiled(unfiled);
  } catch (err) {
    fail(err);
  }
  if (!$("counter-view").hidden) state.timer = setTimeout(pollCase, POLL_MS);
}

function renderUnfiled(materials) {
  $("unfiled-box").hidden = materials.length === 0;
  const canFile = Boolean(state.caseId) && !$("current").hidden;
  $("file-all").disabled = !canFile;
  const list = $("unfiled");
  const key = materials.map((m) => m.id).join(",") + (canFile ? "+" : "-");
  if (list.dataset.key === key) return;
  list.dataset.key = key;
  list.replaceChildren(...materials.map((m) => el("li", { "data-kind": m.kind, "data-id": String(m.id) },
    el("strong", {}, TEXT[lang].kinds[m.kind] || m.kind), " ",
    el("span", { class: "muted" }, `${m.device_id} · ${when(m.captured_at)}`), " ",
    el("button", { type: "button", class: "ghost-dark small", onclick: () => fileUnfiled([m.id]) }, t("fileOne")))));
  for (const b of list.querySelectorAll("button")) b.disabled = !canFile;
}

async function fileUnfiled(ids) {
  try {
    for (const id of ids) await api(`/api/v1/cases/${state.caseId}/materials/${id}/file`, { method: "POST" });
    flash(t("filed"));
    await pollCase();
  } catch (err) {
    fail(err);
  }
}

async function thumbnail(caseId, m) {
  const key = `${caseId}/${m.id}`;
  if (!state.thumbs.has(key)) {
    const blob = await api(`/api/v1/cases/${caseId}/materials/${m.id}/content`, { blob: true });
    state.thumbs.set(key, URL.createObjectURL(blob));
  }
  return state.thumbs.get(key);
}

function materialItem(caseId, m, slots, editable) {
  const li = el("li", { class: "material", "data-kind": m.kind, "data-id": String(m.id) });
  const box = el("div", { class: "thumb" });
  if (m.media_type.startsWith("image/")) {
    const img = el("img", { alt: TEXT[lang].kinds[m.kind] || m.kind });
    thumbnail(caseId, m).then((url) => { img.src = url; }).catch(() => {});
    box.append(img);
  } else {
    const a = el("a", { href: "#", class: "doc" }, m.media_type === "application/pdf" ? `PDF · ${m.pages}` : m.media_type);
    a.addEventListener("click", async (ev) => {
      ev.preventDefault();
      window.open(await thumbnail(caseId, m), "_blank", "noopener");
    });
    box.append(a);
  }
  li.append(box, el("span", { class: "kind" }, TEXT[lang].kinds[m.kind] || m.kind),
    el("span", { class: "muted" }, `${m.device_id} · ${when(m.captured_at)}`));
  if (editable) {
    const sel = el("select", { class: "slot-select", "aria-label": t("checklist") },
      el("option", { value: "" }, t("unassigned")));
    for (const s of slots) sel.append(el("option", { value: s.name }, s.name));
    sel.value = m.slot || "";
    sel.addEventListener("change", () => act({ action: "assign_material", material_id: m.id, slot: sel.value || null }));
    const print = el("button", { type: "button", class: "ghost-dark small", onclick: () => printMaterial(m.id) }, t("print"));
    li.append(sel, print);
  } else if (m.slot) {
    li.append(el("span", { class: "badge" }, m.slot));
  }
  return li;
}

function renderMaterials(list, caseId, materials, slots, editable) {
  const shown = new Map([...list.children].map((n) => [n.dataset.id, n]));
  const want = materials.filter((m) => m.kind !== "signature_strokes");
  const same = want.length === shown.size && want.every((m) => {
    const n = shown.get(String(m.id));
    const sel = n && n.querySelector("select");
    return n && (!sel || sel.value === (m.slot || "") || document.activeElement === sel);
  });
  if (same) return;
  list.replaceChildren(...want.map((m) => materialItem(caseId, m, slots, editable)));
}

function renderCurrent(d) {
  const c = d.case;
  $("current").hidden = false;
  $("cur-code").textContent = c.code;
  $("cur-title").textContent = c.title;
  $("cur-state").textContent = TEXT[lang].states[c.state] || c.state;
  $("cur-applicant").textContent = [c.applicant_name, c.applicant_id_number].filter(Boolean).join(" · ");
  const slots = $("slots");
  slots.replaceChildren(...d.slots.map((s) => el("li", {
    class: s.material_ids.length ? "filled" : (s.required ? "missing" : "optional"), "data-slot": s.name,
  }, el("span", { class: "mark" }, s.material_ids.length ? "✓" : (s.required ? "✗" : "○")), " ", s.name, " ",
  el("span", { class: "muted" }, s.material_ids.length ? `${t("filled")} ${s.material_ids.length}` : (s.required ? t("missing") : t("optional"))))));
  const counter = c.state === "submitted" || c.state === "prechecking" || c.state === "supplement_requested";
  $("accept").disabled = !counter || d.missing.length > 0;
  $("supplement").disabled = !counter;
  renderMaterials($("materials"), c.id, c.materials, d.slots, c.status === "open");
  const landed = c.materials.length;
  if (state.lastCount !== undefined && landed > state.lastCount && state.lastCase === c.id) {
    $("device-status").textContent = t("landed");
  }
  state.lastCount = landed;
  state.lastCase = c.id;
}

async function capture(kind) {
  if (!state.caseId) return;
  try {
    await api(`/api/v1/cases/${state.caseId}/captures`, { method: "POST", json: { device_kind: kind, args: {} } });
    $("device-status").textContent = t("waiting")(TEXT[lang].deviceNames[kind]);
  } catch (err) {
    fail(err);
  }
}

async function printMaterial(materialId) {
  try {
    await api(`/api/v1/cases/${state.caseId}/print`, { method: "POST", json: { material_id: materialId, copies: 1 } });
    $("device-status").textContent = t("printing");
  } catch (err) {
    fail(err);
  }
}

async function act(body, done) {
  try {
    await api(`/api/v1/cases/${state.caseId}/actions`, { method: "POST", json: body });
    if (done) flash(done);
    await pollCase();
  } catch (err) {
    fail(err);
  }
}

async function loadPreview() {
  const img = $("preview");
  img.hidden = true;
  $("preview-none").hidden = false;
  const windowId = Number($("window").value);
  if (!windowId) return;
  try {
    const r = await api(`/api/v1/app/windows/${windowId}/preview`, { method: "POST" });
    if (!r || !r.url) return;
    const url = new URL(r.url);
    if (url.hostname !== "127.0.0.1" || url.protocol !== "http:") return;
    img.onerror = () => { img.hidden = true; $("preview-none").hidden = false; };
    img.onload = () => { img.hidden = false; $("preview-none").hidden = true; };
    img.src = url.href;
  } catch (_) { /* no preview here: the panel says so */ }
}

/* --- queues and case detail ---------------------------------------------------------------------------------- */

async function showQueue() {
  const page = await api("/api/v1/tasks/mine");
  const body = $("queue");
  body.replaceChildren();
  for (const e of page.data) {
    const flagClass = e.task_flag === "red" || e.flag === "red" ? "red" : (e.task_flag === "yellow" || e.flag === "yellow" ? "yellow" : "green");
    body.append(el("tr", { class: `flag-${flagClass}`, "data-case": String(e.task.case_id) },
      el("td", {}, el("a", { href: `#/case/${e.task.case_id}` }, e.case_code)),
      el("td", {}, e.title), el("td", {}, e.task.name),
      el("td", {}, e.task.due || "—", " ", el("span", { class: "badge" }, TEXT[lang].flags[flagClass])),
      el("td", {}, TEXT[lang].states[e.state] || e.state)));
  }
  $("queue-empty").hidden = page.data.length > 0;
}

function eventText(e) {
  const d = e.data || {};
  const parts = [TEXT[lang].events[e.type] || e.type];
  if (d.step) parts.push(d.step);
  if (d.decision) parts.push(d.decision === "approve" ? t("approve") : t("deny"));
  if (d.outcome) parts.push(d.outcome);
  if (d.slot !== undefined && e.type === "material_assigned") parts.push(`#${d.material_id} → ${d.slot || t("unassigned")}`);
  if (d.missing && d.missing.length) parts.push(d.missing.join("、"));
  const opinion = d.opinion || d.reason || "";
  return { head: parts.join(" · "), opinion };
}

async function showCase(id) {
  state.viewCase = id;
  const d = await api(`/api/v1/cases/${id}/detail`);
  const c = d.case;
  $("d-code").textContent = c.code;
  $("d-title").textContent = c.title;
  $("d-state").textContent = TEXT[lang].states[c.state] || c.state;
  const facts = $("d-facts");
  facts.replaceChildren();
  const add = (k, v) => facts.append(el("dt", {}, k), el("dd", {}, v || "—"));
  add(t("applicant"), c.applicant_name);
  add(t("promised"), c.due_promised);
  add(t("statutory"), c.due_statutory);
  add(t("dueNext"), c.due_next);
  add(t("flag"), TEXT[lang].flags[c.flag] || c.flag);
  $("d-tasks").replaceChildren(...d.tasks.map((task) => el("li", { class: `task-${task.status}` },
    `${task.name}（${task.role}）`, " ", el("span", { class: "muted" },
      `${TEXT[lang].taskStatus[task.status] || task.status} · ${task.since} → ${task.due || "—"}`))));
  renderMaterials($("d-materials"), c.id, c.materials, d.slots, false);
  $("d-timeline").replaceChildren(...d.timeline.map((e) => {
    const { head, opinion } = eventText(e);
    return el("li", {}, el("span", { class: "muted" }, when(e.at)), " ", el("strong", {}, head),
      opinion ? el("p", { class: "opinion" }, opinion) : null);
  }));
  const mine = d.tasks.filter((task) => task.status === "open" && state.me.roles.includes(task.role));
  const form = $("decide");
  form.hidden = mine.length === 0;
  const sel = $("d-step");
  sel.replaceChildren(...mine.map((task) => el("option", { value: task.step_key }, task.name)));
}

async function decide(ev) {
  ev.preventDefault();
  const decision = ev.submitter && ev.submitter.value === "deny" ? "deny" : "approve";
  try {
    await api(`/api/v1/cases/${state.viewCase}/actions`, {
      method: "POST",
      json: { action: "decide", step: $("d-step").value, decision, opinion: $("d-opinion").value.trim() },
    });
    $("d-opinion").value = "";
    flash(t("decided"));
    await showCase(state.viewCase);
  } catch (err) {
    fail(err);
  }
}

/* --- technician view ------------------------------------------------------------------------------------------ */

async function showTech() {
  const windows = await api("/api/v1/app/windows");
  const box = $("tech");
  box.replaceChildren();
  if (!windows.length) box.append(el("p", { class: "muted" }, t("noWindows")));
  for (const w of windows) {
    const canTest = hasRole("technician", "center_admin") && w.online;
    const rows = w.devices.map((d) => {
      const out = el("span", { class: "muted test-result", role: "status" });
      const test = canTest && TEST_KINDS.has(d.kind)
        ? el("button", { type: "button", class: "ghost-dark small", onclick: () => testDevice(w.id, d.device_id, out) }, t("test"))
        : null;
      return el("tr", { class: `dev-${d.status}`, "data-device": d.device_id },
        el("td", {}, d.device_id), el("td", {}, d.kind), el("td", {}, TEXT[lang].devStatus[d.status] || d.status),
        el("td", {}, [d.reason, d.last_error].filter(Boolean).join(" · ") || "—"), el("td", {}, d.commands.join(", ")),
        el("td", {}, test, " ", out));
    });
    box.append(el("article", { class: "card" },
      el("h2", {}, `${w.name} `, el("span", { class: w.online ? "badge up" : "badge down" }, w.online ? t("online") : t("offline"))),
      el("p", { class: "muted" }, `${w.agent_id || "—"} · ${t("lastSeen")} ${when(w.last_seen)}`),
      el("table", { class: "table" }, el("thead", {}, el("tr", {}, ...["ID", "", t("state"), t("lastError"), t("commands"), ""].map((h) => el("th", {}, h)))),
        el("tbody", {}, ...rows))));
  }
}

const TEST_KINDS = new Set(["printer", "sigpad", "doccam", "onvif", "terminal", "sim"]);

async function testDevice(windowId, deviceId, out) {
  out.textContent = t("testing");
  try {
    const r = await api(`/api/v1/app/windows/${windowId}/devices/${encodeURIComponent(deviceId)}/test`, { method: "POST" });
    out.textContent = `${r.action}: ${TEXT[lang].cmdStatus[r.status] || r.status}${r.error ? ` · ${r.error}` : ""}`;
  } catch (err) {
    out.textContent = `${t("failed")}：${err.message}`;
  }
}

/* --- start -------------------------------------------------------------------------------------------------- */

document.addEventListener("DOMContentLoaded", () => {
  applyLanguage();
  $("lang").addEventListener("click", () => {
    lang = lang === "zh" ? "en" : "zh";
    localStorage.setItem(LANG_KEY, lang);
    applyLanguage();
    route();
  });
  $("login").addEventListener("submit", signIn);
  $("signout").addEventListener("click", signOut);
  $("new-case").addEventListener("submit", createCase);
  $("find-case").addEventListener("submit", findCases);
  $("window").addEventListener("change", () => { windowState(); loadPreview(); pollCase(); });
  for (const b of document.querySelectorAll(".devices button")) b.addEventListener("click", () => capture(b.dataset.kind));
  $("accept").addEventListener("click", () => act({ action: "accept", opinion: "" }, t("accepted")));
  $("supplement").addEventListener("click", () => act({
    action: "request_supplement", opinion: $("supplement-note").value.trim(),
    missing: $("supplement-note").value.trim() ? [$("supplement-note").value.trim()] : [],
  }, t("supplementSent")));
  $("decide").addEventListener("submit", decide);
  $("file-all").addEventListener("click", () => fileUnfiled([...$("unfiled").children].map((li) => Number(li.dataset.id))));
  window.addEventListener("hashchange", route);
  route();
});
