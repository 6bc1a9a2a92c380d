// 证照核验: look a certificate up by number, or check an uploaded PDF (no sign-in; nothing leaves but the file).
"use strict";

const API = "/api/v1/public/certificates";
const STATUS = { valid: "有效", revoked: "已注销", replaced: "已被替换", pending: "尚未签发", failed: "签发失败" };

function fmtDate(ts) {
  if (ts === null || ts === undefined) return "长期";
  const d = new Date(ts * 1000);
  return `${d.getFullYear()}年${d.getMonth() + 1}月${d.getDate()}日`;
}

function show(valid, verdict, reasons, cert, extra) {
  const box = document.getElementById("result");
  box.hidden = false;
  box.className = valid ? "valid" : "invalid";
  box.dataset.valid = String(valid);
  document.getElementById("verdict").textContent = verdict;
  const list = document.getElementById("reasons");
  list.replaceChildren(...reasons.map((r) => Object.assign(document.createElement("li"), { textContent: r })));
  const rows = [];
  if (cert) {
    rows.push(["证照编号", cert.number], ["持证人", cert.holder], ["事项", cert.item], ["发证机关", cert.issuer],
      ["发证日期", fmtDate(cert.valid_from)], ["有效期至", fmtDate(cert.valid_until)],
      ["状态", STATUS[cert.status] || cert.status]);
  }
  for (const [k, v] of extra || []) rows.push([k, v]);
  const dl = document.getElementById("details");
  dl.replaceChildren();
  for (const [k, v] of rows) {
    dl.append(Object.assign(document.createElement("dt"), { textContent: k }));
    dl.append(Object.assign(document.createElement("dd"), { textContent: v }));
  }
}

document.getElementById("by-number").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const number = document.getElementById("number").value.trim();
  const r = await fetch(`${API}/${encodeURIComponent(number)}`);
  if (r.status === 404) return show(false, "无效：查无此证照", [`没有编号为 ${number} 的证照`], null);
  if (!r.ok) return show(false, "查询失败", [`服务器返回 ${r.status}`], null);
  const cert = await r.json();
  const ok = cert.status === "valid" && (cert.valid_until === null || cert.valid_until * 1000 > Date.now());
  show(ok, ok ? "有效：证照已登记且在有效期内" : "无效", ok ? [] : [`证照${STATUS[cert.status] || cert.status}`], cert);
});

document.getElementById("by-file").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const file = document.getElementById("file").files[0];
  if (!file) return;
  const r = await fetch(`${API}/verify`, {
    method: "POST", headers: { "Content-Type": "application/pdf" }, body: file,
  });
  if (!r.ok) return show(false, "核验失败", [`服务器返回 ${r.status}`], null);
  const res = await r.json();
  show(res.valid, res.valid ? "有效：文件完整，签章可信，证照有效" : "无效", res.reasons, res.certificate, [
    ["签章单位", res.signer || "—"], ["文件摘要", res.sha256],
  ]);
});
