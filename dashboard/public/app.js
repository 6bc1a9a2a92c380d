/* Public catalog of service items: search and item guide over /api/public/v1 (same origin, no sign-in).
 * Every text from the API is put into the page with textContent / createTextNode, never as HTML. */
"use strict";

const API = "/api/public/v1";
const PAGE = 20;

const CODES = {
  level: {
    zh: { 1: "国家级", 2: "省级", 3: "市级", 4: "县级", 5: "乡级", 6: "村级" },
    en: { 1: "National", 2: "Region", 3: "City", 4: "County", 5: "Township", 6: "Village" },
  },
  itemType: {
    zh: { "01": "行政许可", "02": "行政处罚", "03": "行政强制", "04": "行政征收", "05": "行政给付", "06": "行政检查",
      "07": "行政确认", "08": "行政奖励", "09": "行政裁决", "10": "其他行政权力", "20": "公共服务" },
    en: { "01": "Licensing", "02": "Penalty", "03": "Enforcement", "04": "Levy", "05": "Benefit", "06": "Inspection",
      "07": "Confirmation", "08": "Reward", "09": "Adjudication", "10": "Other power", "20": "Public service" },
  },
  serviceObject: {
    zh: { 1: "自然人", 2: "企业法人", 3: "事业单位法人", 4: "社会组织法人", 5: "非法人企业", 6: "行政机关", 9: "其他组织" },
    en: { 1: "Individuals", 2: "Companies", 3: "Public institutions", 4: "Social organisations",
      5: "Unincorporated enterprises", 6: "Government bodies", 9: "Other organisations" },
  },
  channel: {
    zh: { 1: "窗口办理", 2: "网上办理", 3: "移动端办理", 4: "快递申请" },
    en: { 1: "At the window", 2: "Online", 3: "Mobile app", 4: "By courier" },
  },
  timeUnit: { zh: { "工作日": "个工作日", "自然日": "个自然日" }, en: { "工作日": "working days", "自然日": "calendar days" } },
  stepKind: {
    zh: { "受理": "受理", "审核": "审核", "审批": "审批", "办结": "办结", "其他": "其他" },
    en: { "受理": "Acceptance", "审核": "Review", "审批": "Approval", "办结": "Conclusion", "其他": "Other" },
  },
};

const TEXT = {
  zh: {
    title: "政务服务事项目录", searchHeading: "查找办事事项", name: "事项名称", namePlaceholder: "输入事项名称的一部分，如“营业执照”",
    department: "部门", level: "层级", itemType: "事项类型", all: "全部", search: "搜索", more: "更多",
    back: "← 返回查询", footer: "本页面仅显示当前有效的已发布事项。", switchTo: "English",
    found: (n, more) => (more ? `已显示 ${n} 项，还有更多` : `共 ${n} 项`), none: "没有找到符合条件的事项",
    loading: "正在加载…", failed: "加载失败，请稍后再试", notFound: "事项不存在或当前没有有效版本",
    implementationCode: "实施编码", unit: "实施主体", office: "办理处室", coDepartments: "联办机构",
    serviceObjects: "服务对象", channels: "办理形式", appointment: "预约办理", onlinePayment: "网上支付",
    yes: "支持", no: "不支持", validFrom: "有效期",
    period: (from, to) => (to ? `${from} 至 ${to}（不含）` : `${from} 起长期有效`),
    conditions: "受理条件", materials: "申请材料", noMaterials: "无需提交材料", limits: "办理时限",
    statutory: "法定办结时限", promised: "承诺办结时限", fees: "收费", free: "不收费", feeBasis: "收费依据",
    where: "办理地点和时间", location: "办理地点", hours: "办理时间", contact: "咨询与监督", consultation: "咨询方式",
    supervision: "监督投诉方式", legalBasis: "设定依据", process: "办理流程", steps: "办理环节",
    stepLimit: (n) => `${n} 个工作日`, handledAt: (lvl) => `由${lvl}办理`, criticalPath: (n) => `各环节合计最长 ${n} 个工作日`,
    quantityLimit: "数量限制", intermediary: "中介服务", special: "特别程序", results: "审批结果", resultSample: "结果样本",
    required: "必要", optional: "非必要", originals: (n) => `原件 ${n} 份`, copies: (n) => `复印件 ${n} 份`,
    issuer: "出具单位", blankForm: "空白表格", sample: "示例样表", none_: "无",
  },
  en: {
    title: "Catalog of government services", searchHeading: "Find a service", name: "Service name",
    namePlaceholder: "Part of the name, e.g. 营业执照", department: "Department", level: "Level", itemType: "Type",
    all: "All", search: "Search", more: "More", back: "← Back to search",
    footer: "Only published services valid today are shown.", switchTo: "中文",
    found: (n, more) => (more ? `${n} shown, more available` : `${n} found`), none: "No service matches",
    loading: "Loading…", failed: "Could not load, please try again later", notFound: "No such service, or none valid today",
    implementationCode: "Implementation code", unit: "Implementing body", office: "Handling office",
    coDepartments: "Co-implementing bodies", serviceObjects: "For", channels: "Channels", appointment: "Appointments",
    onlinePayment: "Online payment", yes: "Yes", no: "No", validFrom: "Valid",
    period: (from, to) => (to ? `from ${from} until before ${to}` : `from ${from}, until further notice`),
    conditions: "Conditions", materials: "Materials", noMaterials: "No materials needed", limits: "Time limits",
    statutory: "Statutory limit", promised: "Promised limit", fees: "Fees", free: "Free of charge", feeBasis: "Basis",
    where: "Where and when", location: "Location", hours: "Hours", contact: "Consultation and supervision",
    consultation: "Consultation", supervision: "Complaints and supervision", legalBasis: "Legal basis", process: "Process",
    steps: "Steps", stepLimit: (n) => `${n} working days`, handledAt: (lvl) => `handled at ${lvl} level`,
    criticalPath: (n) => `at most ${n} working days over all steps`, quantityLimit: "Quantity limits",
    intermediary: "Intermediary services", special: "Special procedures", results: "Result", resultSample: "Result sample",
    required: "required", optional: "optional", originals: (n) => `${n} original(s)`, copies: (n) => `${n} copy(ies)`,
    issuer: "Issued by", blankForm: "Blank form", sample: "Sample", none_: "None",
  },
};

let lang = localStorage.getItem("hallmesh.lang") === "en" ? "en" : "zh";
let lastQuery = null;
let shown = 0;
let currentItem = null;

const $ = (id) => document.getElementById(id);
const t = (key, ...args) => {
  const v = TEXT[lang][key];
  return typeof v === "function" ? v(...args) : v;
};
const label = (list, code) => CODES[list][lang][code] ?? String(code);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    node.append(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
  return node;
}

/* A link only for http(s) addresses or paths on this site; anything else (a file name) stays text. */
function maybeLink(value) {
  const v = String(value).trim();
  if (/^https?:\/\/[^\s]+$/i.test(v) || /^\/(?!\/)[^\s]*$/.test(v)) {
    return el("a", { href: v, rel: "noopener noreferrer", target: "_blank" }, v);
  }
  return document.createTextNode(v);
}

async function getJSON(path) {
  const r = await fetch(API + path, { headers: { Accept: "application/json" }, credentials: "omit" });
  if (!r.ok) {
    const err = new Error(String(r.status));
    err.status = r.status;
    throw err;
  }
  return r.json();
}

function applyLanguage() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.title = t("title");
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll("[data-i18n-placeholder]")) {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  }
  const button = $("lang");
  button.textContent = t("switchTo");
  button.lang = lang === "zh" ? "en" : "zh-CN";
  button.setAttribute("aria-label", t("switchTo"));
  fillCodes($("level"), "level", [2, 3, 4, 5, 6]);
  fillCodes($("item-type"), "itemType", Object.keys(CODES.itemType.zh));
}

function fillCodes(select, list, codes) {
  const keep = select.value;
  while (select.options.length > 1) select.remove(1);
  for (const c of codes) select.append(el("option", { value: String(c) }, label(list, c)));
  select.value = keep;
}

async function loadDepartments() {
  try {
    const depts = await getJSON("/departments");
    const select = $("department");
    for (const d of depts) select.append(el("option", { value: d.code }, d.name));
  } catch {
    /* the search works without the list */
  }
}

function queryFromForm() {
  const params = new URLSearchParams();
  const q = $("q").value.trim();
  if (q) params.set("q", q);
  for (const [id, key] of [["department", "department_code"], ["level", "level"], ["item-type", "item_type"]]) {
    if ($(id).value) params.set(key, $(id).value);
  }
  return params;
}

function formFromQuery(params) {
  $("q").value = params.get("q") || "";
  $("department").value = params.get("department_code") || "";
  $("level").value = params.get("level") || "";
  $("item-type").value = params.get("item_type") || "";
}

async function runSearch(params, append) {
  const status = $("status");
  const list = $("results");
  if (!append) {
    list.replaceChildren();
    shown = 0;
  }
  status.textContent = t("loading");
  const page = new URLSearchParams(params);
  page.set("offset", String(shown));
  page.set("limit", String(PAGE + 1));
  let found;
  try {
    found = await getJSON("/items?" + page.toString());
  } catch {
    status.textContent = t("failed");
    status.className = "status error";
    return;
  }
  status.className = "status";
  const more = found.data.length > PAGE;
  for (const item of found.data.slice(0, PAGE)) list.append(resultRow(item));
  shown += Math.min(found.data.length, PAGE);
  $("more").hidden = !more;
  status.textContent = shown ? t("found", shown, more) : t("none");
}

function resultRow(item) {
  const c = item.content;
  return el(
    "li",
    { "data-item-id": String(item.id) },
    el("a", { href: `#/item/${encodeURIComponent(item.id)}` }, c.name),
    el(
      "p",
      { class: "meta" },
      el("span", {}, item.unit_name),
      el("span", {}, item.department_name),
      el("span", {}, label("level", c.level)),
      el("span", {}, label("itemType", c.item_type)),
      el("span", {}, `${t("promised")}: ${limitText(c.promised_limit, c.promised_limit_unit)}`),
    ),
  );
}

function limitText(n, unit) {
  return lang === "zh" ? `${n} ${label("timeUnit", unit)}` : `${n} ${label("timeUnit", unit)}`;
}

function facts(pairs) {
  const dl = el("dl", { class: "facts" });
  for (const [key, value] of pairs) {
    if (value === "" || value === null || value === undefined) continue;
    dl.append(el("dt", {}, t(key)), el("dd", {}, value));
  }
  return dl;
}

function section(titleKey, ...content) {
  return el("section", { "data-section": titleKey }, el("h2", {}, t(titleKey)), ...content);
}

function textSection(titleKey, value) {
  return value ? section(titleKey, el("p", { class: "text" }, value)) : null;
}

function renderItem(item) {
  const c = item.content;
  const period = t("period", item.valid_from, item.valid_to);
  const materials = c.materials.length
    ? el("ol", { class: "materials", id: "materials" }, ...c.materials.map(materialRow))
    : el("p", {}, t("noMaterials"));
  const limits = el(
    "div",
    { class: "limits", id: "limits" },
    el("div", { class: "card", "data-limit": "statutory" }, el("div", {}, t("statutory")),
      el("div", { class: "n" }, limitText(c.statutory_limit, c.statutory_limit_unit)),
      c.statutory_limit_note ? el("div", { class: "text" }, c.statutory_limit_note) : null),
    el("div", { class: "card", "data-limit": "promised" }, el("div", {}, t("promised")),
      el("div", { class: "n" }, limitText(c.promised_limit, c.promised_limit_unit)),
      c.promised_limit_note ? el("div", { class: "text" }, c.promised_limit_note) : null),
  );
  const steps = item.steps && item.steps.length
    ? section(
      "steps",
      el("ol", { class: "steps", id: "steps" }, ...item.steps.map(stepRow)),
      item.critical_path_days !== null ? el("p", { class: "meta" }, t("criticalPath", item.critical_path_days)) : null,
    )
    : null;
  const parts = [
    el("h1", { id: "item-name" }, c.name),
    facts([
      ["implementationCode", item.implementation_code],
      ["itemType", label("itemType", c.item_type)],
      ["level", label("level", c.level)],
      ["unit", item.unit_name],
      ["department", item.department_name],
      ["office", c.handling_office],
      ["coDepartments", c.co_departments],
      ["serviceObjects", c.service_objects.map((s) => label("serviceObject", s)).join(lang === "zh" ? "、" : ", ")],
      ["channels", c.channels.map((s) => label("channel", s)).join(lang === "zh" ? "、" : ", ")],
      ["appointment", c.appointment ? t("yes") : t("no")],
      ["onlinePayment", c.online_payment ? t("yes") : t("no")],
      ["validFrom", period],
    ]),
    textSection("conditions", c.conditions),
    section("materials", materials),
    section("limits", limits),
    section("fees", facts([["fees", c.fee || t("free")], ["feeBasis", c.fee_basis]])),
    section("where", facts([["location", c.location || t("none_")], ["hours", c.hours || t("none_")]])),
    section("contact", facts([["consultation", c.consultation || t("none_")], ["supervision", c.supervision || t("none_")]])),
    textSection("legalBasis", c.legal_basis),
    textSection("process", c.process),
    steps,
    textSection("quantityLimit", c.quantity_limit),
    textSection("intermediary", c.intermediary_services),
    textSection("special", c.special_procedures),
    c.results || c.result_sample
      ? section("results", facts([["results", c.results], ["resultSample", c.result_sample ? maybeLink(c.result_sample) : ""]]))
      : null,
  ];
  $("item").replaceChildren(...parts.filter((p) => p));
  document.title = `${c.name} — ${t("title")}`;
}

function materialRow(m) {
  const links = [];
  if (m.blank_form) links.push(el("span", {}, `${t("blankForm")}: `, maybeLink(m.blank_form)));
  if (m.sample) links.push(el("span", {}, `${t("sample")}: `, maybeLink(m.sample)));
  return el(
    "li",
    {},
    el("div", { class: "title" }, m.name,
      el("span", { class: m.required ? "tag required" : "tag" }, m.required ? t("required") : t("optional"))),
    el(
      "p",
      { class: "meta" },
      el("span", {}, t("originals", m.originals)),
      el("span", {}, t("copies", m.copies)),
      m.issuer ? el("span", {}, `${t("issuer")}: ${m.issuer}`) : null,
      ...links,
    ),
  );
}

function stepRow(s) {
  return el(
    "li",
    {},
    el("div", { class: "title" }, s.name, el("span", { class: "tag" }, label("stepKind", s.kind))),
    el("p", { class: "meta" }, el("span", {}, t("stepLimit", s.time_limit)),
      s.level ? el("span", {}, t("handledAt", label("level", s.level))) : null),
  );
}

async function showItem(id) {
  $("search-view").hidden = true;
  $("item-view").hidden = false;
  const box = $("item");
  if (!currentItem || String(currentItem.id) !== id) {
    box.replaceChildren(el("p", { class: "status" }, t("loading")));
    try {
      currentItem = await getJSON(`/items/${encodeURIComponent(id)}`);
    } catch (err) {
      currentItem = null;
      box.replaceChildren(el("p", { class: "error", id: "item-error" }, err.status === 404 ? t("notFound") : t("failed")));
      return;
    }
  }
  renderItem(currentItem);
  window.scrollTo(0, 0);
}

function showSearch(params) {
  $("item-view").hidden = true;
  $("search-view").hidden = false;
  document.title = t("title");
  formFromQuery(params);
  const key = params.toString();
  if (key !== lastQuery) {
    lastQuery = key;
    runSearch(params, false);
  }
}

function route() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const item = /^\/item\/(\d+)$/.exec(hash);
  if (item) {
    showItem(item[1]);
    return;
  }
  const q = hash.indexOf("?");
  showSearch(new URLSearchParams(q >= 0 ? hash.slice(q + 1) : ""));
}

function init() {
  applyLanguage();
  $("search").addEventListener("submit", (e) => {
    e.preventDefault();
    const params = queryFromForm();
    const target = "#/search?" + params.toString();
    lastQuery = null;
    if (location.hash === target) route();
    else location.hash = target;
  });
  $("more").addEventListener("click", () => runSearch(new URLSearchParams(lastQuery || ""), true));
  $("lang").addEventListener("click", () => {
    lang = lang === "zh" ? "en" : "zh";
    localStorage.setItem("hallmesh.lang", lang);
    applyLanguage();
    if (!$("item-view").hidden && currentItem) renderItem(currentItem);
    else if (lastQuery !== null) {
      lastQuery = null;
      route();
    }
  });
  window.addEventListener("hashchange", route);
  loadDepartments().then(() => {
    const q = location.hash.indexOf("?");
    if (q >= 0) $("department").value = new URLSearchParams(location.hash.slice(q + 1)).get("department_code") || "";
  });
  route();
}

init();
