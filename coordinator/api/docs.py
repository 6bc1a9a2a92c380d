"""``/docs``: a small self-contained page listing the API from ``/openapi.json`` (no CDN: the network is offline)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>hallmesh coordinator API</title>
<style>
body{font:14px/1.5 system-ui,sans-serif;margin:2rem;max-width:60rem}
h2{font-size:1rem;margin:1.2rem 0 .3rem}code{background:#f2f2f2;padding:0 .3em}
.m{display:inline-block;width:4.5em;font-weight:bold}.d{color:#555;margin-left:5.2em}
</style></head>
<body><h1>hallmesh coordinator API / 协调器接口</h1>
<p>Machine-readable schema: <a href="openapi.json">openapi.json</a>.
Authenticate with <code>Authorization: Bearer &lt;HALLMESH_API_TOKEN&gt;</code>.</p>
<div id="api">loading…</div>
<script>
fetch("openapi.json").then(r => r.json()).then(spec => {
  const root = document.getElementById("api"); root.textContent = "";
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const h = document.createElement("h2");
      const m = document.createElement("span"); m.className = "m"; m.textContent = method.toUpperCase();
      const p = document.createElement("code"); p.textContent = path;
      h.append(m, p); root.append(h);
      const d = document.createElement("div"); d.className = "d";
      d.textContent = (op.summary || "") + (op.description ? " — " + op.description : "");
      root.append(d);
    }
  }
});
</script></body></html>
"""


@router.get("/docs", response_class=HTMLResponse)
def docs() -> HTMLResponse:
    return HTMLResponse(PAGE)
