/* Staff web app: sign-in, the clerk's counter workstation, work queues with case detail and decisions, and the
 * technician's window/device view — over the staff API on the same origin with the JWT kept in sessionStorage.
 * Every text from the API is put into the page with textContent / createTextNode, never as HTML. */
"use strict";

const TOKEN_KEY = "hallmesh.staff.token";
const LANG_KEY = "hallmesh.lang";
const POLL_MS = 1000;
const SCAN_KEY = "hallmesh.scan.";  // + window id: the clerk's last scanner settings at that window

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
    scanOptions: "扫描设置", scanSource: "来源", scanFlatbed: "平板", scanAdf: "自动进纸", scanResolution: "分辨率",
    scanMode: "色彩", scanColor: "彩色", scanGray: "灰度", scanLineart: "黑白", scanPages: "页数",
    scanUntilEmpty: "直到送纸器为空", scanCount: "指定页数", scanCountLabel: "页数（张）",
    movePrecheck: "开始预审", moveSupplement: "补正材料已收", moveNotAccept: "不予受理", confirmPrecheck: "开始预审",
    supplementReceived: "收到的补正材料", confirmSupplement: "补正材料已收，继续审查",
    notAcceptWarning: "不予受理即办结，须出具不予受理决定并说明理由。", confirmNotAccept: "确认不予受理",
    movesHeading: "办理操作", moveSpecialStart: "启动特别程序", moveSpecialEnd: "结束特别程序", moveExtend: "延期",
    moveResultReady: "出证", moveDeliver: "送达", moveEvaluate: "评价", moveWithdraw: "撤回", moveVoid: "作废",
    specialKind: "特别程序种类", kindHearing: "听证", kindTesting: "检验检测", kindExperts: "专家评审", kindAppraisal: "鉴定",
    kindAuction: "招标拍卖", reason: "理由", specialNote: "特别程序期间办理时限暂停计算，结束后继续计时。",
    confirmSpecialStart: "启动并暂停计时", confirmSpecialEnd: "结束并恢复计时", extendDays: "延长天数",
    extendNote: "只能延长一次，最多 10 日（行政许可法第四十二条），须经本机关负责人批准。", confirmExtend: "延长办理时限",
    delivery: "送达方式", pickup: "窗口领取", mail: "邮寄", confirmResultReady: "结果已出具", deliveredHow: "送达方式",
    pickedUp: "申请人已领取", mailed: "已邮寄", confirmDeliver: "确认送达", rating: "申请人评价", comment: "评价意见（选填）",
    score5: "非常满意", score4: "满意", score3: "基本满意", score2: "不满意", score1: "非常不满意", confirmEvaluate: "记录评价",
    withdrawWarning: "撤回后办件即办结（撤回），不能恢复。", confirmWithdraw: "确认撤回",
    voidWarning: "作废后办件即办结（作废），不能恢复。", confirmVoid: "确认作废",
    moveDone: { precheck: "已开始预审", supplement: "补正材料已收", not_accept: "已不予受理",
      special_start: "特别程序已启动，计时暂停", special_end: "特别程序已结束，继续计时", extend: "办理时限已延长",
      result_ready: "结果已出具", deliver: "已送达", evaluate: "评价已记录", withdraw: "办件已撤回", void: "办件已作废" },
    outcome: "办结结果", clock: "计时", clockRunning: "计时中", clockStopped: "已暂停", since: "自",
    outcomes: { approved: "准予", denied: "不予许可", withdrawn: "撤回", voided: "作废" },
    specialKinds: { 听证: "听证", 检验检测: "检验检测", 专家评审: "专家评审", 鉴定: "鉴定", 招标拍卖: "招标拍卖" },
    days: (n) => `${n} 日`, deliveries: { pickup: "窗口领取", mail: "邮寄", picked_up: "已领取", mailed: "已邮寄" },
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
    scanOptions: "Scan settings", scanSource: "Source", scanFlatbed: "Flatbed", scanAdf: "Document feeder (ADF)",
    scanResolution: "Resolution", scanMode: "Colour", scanColor: "Colour", scanGray: "Greyscale",
    scanLineart: "Black and white", scanPages: "Pages", scanUntilEmpty: "Until the feeder is empty",
    scanCount: "A number of pages", scanCountLabel: "Number of pages",
    movePrecheck: "Start pre-check", moveSupplement: "Supplement received", moveNotAccept: "Do not accept",
    confirmPrecheck: "Start pre-check", supplementReceived: "Materials received",
    confirmSupplement: "Supplement received, continue", confirmNotAccept: "Confirm: do not accept",
    notAcceptWarning: "Not accepting concludes the case; a written decision with the reason must be issued.",
    movesHeading: "Case actions", moveSpecialStart: "Start special procedure", moveSpecialEnd: "End special procedure",
    moveExtend: "Extend", moveResultReady: "Result ready", moveDeliver: "Deliver", moveEvaluate: "Evaluation",
    moveWithdraw: "Withdraw", moveVoid: "Void", specialKind: "Kind of procedure", kindHearing: "Hearing",
    kindTesting: "Inspection and testing", kindExperts: "Expert review", kindAppraisal: "Appraisal",
    kindAuction: "Tender or auction", reason: "Reason",
    specialNote: "The clock stops during a special procedure and runs on when it ends.",
    confirmSpecialStart: "Start and stop the clock", confirmSpecialEnd: "End and restart the clock",
    extendDays: "Days to add",
    extendNote: "Once only, at most 10 days (Administrative Licensing Law Art. 42), approved by the head of the body.",
    confirmExtend: "Extend the time limit", delivery: "Delivery", pickup: "Pick-up at the window", mail: "Mail",
    confirmResultReady: "Result is ready", deliveredHow: "Delivered by", pickedUp: "Picked up by the applicant",
    mailed: "Mailed", confirmDeliver: "Confirm delivery", rating: "Applicant's rating", comment: "Comment (optional)",
    score5: "Very satisfied", score4: "Satisfied", score3: "Fairly satisfied", score2: "Unsatisfied",
    score1: "Very unsatisfied", confirmEvaluate: "Record the rating",
    withdrawWarning: "Withdrawing concludes the case (withdrawn); it cannot be undone.", confirmWithdraw: "Confirm withdrawal",
    voidWarning: "Voiding concludes the case (voided); it cannot be undone.", confirmVoid: "Confirm voiding",
    moveDone: { precheck: "Pre-check started", supplement: "Supplement received", not_accept: "Not accepted",
      special_start: "Special procedure started; the clock is stopped",
      special_end: "Special procedure ended; the clock runs again", extend: "Time limit extended",
      result_ready: "Result ready", deliver: "Delivered", evaluate: "Rating recorded", withdraw: "Case withdrawn",
      void: "Case voided" },
    outcome: "Outcome", clock: "Clock", clockRunning: "running", clockStopped: "stopped", since: "since",
    outcomes: { approved: "approved", denied: "denied", withdrawn: "withdrawn", voided: "voided" },
    specialKinds: { 听证: "hearing", 检验检测: "inspection and testing", 专家评审: "expert review", 鉴定: "appraisal",
      招标拍卖: "tender or auction" },
    days: (n) => `${n} days`, deliveries: { pickup: "pick-up", mail: "mail", picked_up: "picked up", mailed: "mailed" },
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
      detail = typeof body.detail === "string" ? body.detail
        : Array.isArray(body.detail) ? body.detail.map(validationText).join("；") : JSON.stringify(body.detail);
    } catch (_) { /* not JSON */ }
    throw new ApiError(r.status, detail);
  }
  if (r.status === 204) return null;
  if (opts.blob) return r.blob();
  return r.json();
}

function validationText(e) {
  // FastAPI's 422 entries: name the field (``body.args.resolution`` → ``args.resolution``) and the complaint.
  const loc = Array.isArray(e.loc) ? e.loc.filter((x) => x !== "body").join(".") : "";
  return loc ? `${loc}: ${e.msg}` : String(e.msg);
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
  loadScanOptions();
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

/* Scanner settings: source, resolution, colour, and for the feeder a page count or "until empty"; remembered per
 * window in localStorage (settings, not personal data). The server checks them again (422 naming the field). */
function scanControls() {
  const adf = $("scan-source").value === "ADF";
  $("scan-pages-box").hidden = !adf;
  $("scan-count-box").hidden = !adf || $("scan-pages-mode").value !== "count";
}

function scanOptions() {
  return { source: $("scan-source").value, resolution: Number($("scan-resolution").value), mode: $("scan-mode").value,
    pages: $("scan-pages-mode").value === "count" ? Math.max(1, Math.floor(Number($("scan-pages").value) || 1)) : "all" };
}

function scanArgs() {
  const o = scanOptions();
  const args = { source: o.source, resolution: o.resolution, mode: o.mode };
  if (o.source === "ADF" && o.pages !== "all") args.pages = o.pages;
  return args;
}

function saveScanOptions() {
  const windowId = $("window").value;
  if (windowId) localStorage.setItem(SCAN_KEY + windowId, JSON.stringify(scanOptions()));
}

function loadScanOptions() {
  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(SCAN_KEY + $("window").value) || "{}") || {};
  } catch (_) { /* a damaged entry: the defaults */ }
  const pick = (id, value, fallback) => {
    const sel = $(id);
    sel.value = [...sel.options].some((o) => o.value === String(value)) ? String(value) : fallback;
  };
  pick("scan-source", saved.source, "Flatbed");
  pick("scan-resolution", saved.resolution, "300");
  pick("scan-mode", saved.mode, "Color");
  const count = Number.isInteger(saved.pages) && saved.pages >= 1 && saved.pages <= 1000;
  $("scan-pages-mode").value = count ? "count" : "all";
  $("scan-pages").value = count ? String(saved.pages) : "1";
  scanControls();
}

async function capture(kind) {
  if (!state.caseId) return;
  try {
    const args = kind === "scanner" ? scanArgs() : {};
    await api(`/api/v1/cases/${state.caseId}/captures`, { method: "POST", json: { device_kind: kind, args } });
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
  if (d.outcome) parts.push(TEXT[lang].outcomes[d.outcome] || d.outcome);
  if (d.kind) parts.push(TEXT[lang].specialKinds[d.kind] || d.kind);
  if (e.type === "extended" && d.days) parts.push(`+${TEXT[lang].days(d.days)}`);
  if (d.delivery) parts.push(TEXT[lang].deliveries[d.delivery] || d.delivery);
  if (d.how) parts.push(TEXT[lang].deliveries[d.how] || d.how);
  if (e.type === "evaluated" && d.score) parts.push(t(`score${d.score}`) || String(d.score));
  if (d.slot !== undefined && e.type === "material_assigned") parts.push(`#${d.material_id} → ${d.slot || t("unassigned")}`);
  if (d.missing && d.missing.length) parts.push(d.missing.join("、"));
  const opinion = d.opinion || d.reason || d.comment || "";
  return { head: parts.join(" · "), opinion };
}

async function showCase(id) {
  if (state.viewCase !== id) {
    $("move-error").textContent = "";
    for (const f of document.querySelectorAll(".move-form")) { f.reset(); f.hidden = true; }
  }
  state.viewCase = id;
  const d = await api(`/api/v1/cases/${id}/detail`);
  const c = d.case;
  $("d-code").textContent = c.code;
  $("d-title").textContent = c.title;
  $("d-state").textContent = TEXT[lang].states[c.state] || c.state;
  const facts = $("d-facts");
  facts.replaceChildren();
  const add = (k, v, key) => facts.append(el("dt", {}, k), el("dd", key ? { "data-fact": key } : {}, v || "—"));
  add(t("applicant"), c.applicant_name);
  add(t("promised"), c.due_promised, "promised");
  add(t("statutory"), c.due_statutory, "statutory");
  add(t("dueNext"), c.due_next, "due-next");
  add(t("flag"), TEXT[lang].flags[c.flag] || c.flag, "flag");
  add(t("clock"), clockText(c, d.timeline), "clock");
  if (c.outcome) add(t("outcome"), TEXT[lang].outcomes[c.outcome] || c.outcome, "outcome");
  $("d-tasks").replaceChildren(...d.tasks.map((task) => el("li", { class: `task-${task.status}` },
    `${task.name}（${task.role}）`, " ", el("span", { class: "muted" },
      `${TEXT[lang].taskStatus[task.status] || task.status} · ${task.since} → ${task.due || "—"}`))));
  renderMaterials($("d-materials"), c.id, c.materials, d.slots, false);
  $("d-timeline").replaceChildren(...d.timeline.map((e) => {
    const { head, opinion } = eventText(e);
    return el("li", {}, el("span", { class: "muted" }, when(e.at)), " ", el("strong", {}, head),
      opinion ? el("p", { class: "opinion" }, opinion) : null);
  }));
  renderMoves(d.moves || []);
  const mine = d.tasks.filter((task) => task.status === "open" && state.me.roles.includes(task.role));
  const form = $("decide");
  form.hidden = mine.length === 0;
  const sel = $("d-step");
  sel.replaceChildren(...mine.map((task) => el("option", { value: task.step_key }, task.name)));
}

function clockText(c, timeline) {
  if (c.state === "suspended") {
    const started = [...timeline].reverse().find((e) => e.type === "special_started");
    const kind = started ? (TEXT[lang].specialKinds[started.data.kind] || started.data.kind) : "";
    const since = started ? new Date(started.at * 1000).toLocaleDateString(lang === "zh" ? "zh-CN" : "en-GB") : "";
    return [t("clockStopped"), kind, since ? `${t("since")} ${since}` : ""].filter(Boolean).join(" · ");
  }
  return c.state === "in_progress" ? t("clockRunning") : "";
}

/* The moves the server says this person may take now (``moves`` of the detail: the case's state, their roles
 * and tasks); a button for each, opening its small form. The page keeps no state table of its own. */
function renderMoves(moves) {
  const allowed = new Set(moves);
  let any = false;
  for (const b of $("move-buttons").querySelectorAll("button")) {
    b.hidden = !allowed.has(b.dataset.move);
    any = any || !b.hidden;
  }
  for (const f of document.querySelectorAll(".move-form")) {
    if (!allowed.has(f.dataset.move)) f.hidden = true;
  }
  $("moves").hidden = !any;
}

function openMove(move) {
  for (const f of document.querySelectorAll(".move-form")) f.hidden = f.dataset.move !== move || !f.hidden;
  $("move-error").textContent = "";
}

const MOVE_BODIES = {
  precheck: () => ({ opinion: $("precheck-note").value.trim() }),
  supplement: () => ({ opinion: $("supplemented-note").value.trim() }),
  not_accept: () => ({ opinion: $("not-accept-reason").value.trim() }),
  special_start: () => ({ kind: $("special-kind").value, opinion: $("special-reason").value.trim() }),
  special_end: () => ({ opinion: $("special-end-note").value.trim() }),
  extend: () => ({ days: Number($("extend-days").value), opinion: $("extend-reason").value.trim() }),
  result_ready: () => ({ delivery: $("result-delivery").value }),
  deliver: () => ({ delivery: $("deliver-how").value }),
  evaluate: () => ({ score: Number($("eval-score").value), opinion: $("eval-comment").value.trim() }),
  withdraw: () => ({ opinion: $("withdraw-reason").value.trim() }),
  void: () => ({ opinion: $("void-reason").value.trim() }),
};

async function submitMove(ev) {
  ev.preventDefault();
  const form = ev.currentTarget;
  const move = form.dataset.move;
  const caseId = state.viewCase;
  $("move-error").textContent = "";
  try {
    await api(`/api/v1/cases/${caseId}/actions`, { method: "POST", json: { action: move, ...MOVE_BODIES[move]() } });
    form.reset();
    form.hidden = true;
    flash(TEXT[lang].moveDone[move]);
  } catch (err) {
    $("move-error").textContent = err.message;  // the server's refusal names the case's state and the move
    fail(err);
    if (err.status !== 409) return;  // a refused move: show the case as it now is (the error stays)
  }
  try {
    if (state.viewCase === caseId) await showCase(caseId);
  } catch (err) {
    fail(err);
  }
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
  for (const b of $("move-buttons").querySelectorAll("button")) b.addEventListener("click", () => openMove(b.dataset.move));
  for (const f of document.querySelectorAll(".move-form")) f.addEventListener("submit", submitMove);
  for (const id of ["scan-source", "scan-resolution", "scan-mode", "scan-pages-mode", "scan-pages"]) {
    $(id).addEventListener("change", () => { scanControls(); saveScanOptions(); });
  }
  $("file-all").addEventListener("click", () => fileUnfiled([...$("unfiled").children].map((li) => Number(li.dataset.id))));
  window.addEventListener("hashchange", route);
  route();
});
