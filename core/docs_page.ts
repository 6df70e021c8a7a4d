/**
 * `/docs`: an interactive API reference for the enabled plugins, rendered in the browser from the
 * OpenAPI document embedded in the page (so it loads nothing else, works offline and inside the
 * single binary, where a CDN-hosted viewer would not). Per operation: parameters, request and
 * response schemas with examples, the error answers and their codes, and a "try it" form that
 * sends the API key given at the top of the page (kept in the tab's sessionStorage only).
 */
import { coreErrors } from "./errors.ts";

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** JSON safe to place inside a `<script>` element (no `</script>`, no `<!--`). */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(
    /\u2028|\u2029/g,
    (c) => c === "\u2028" ? "\\u2028" : "\\u2029",
  );
}

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330}
header{position:sticky;top:0;background:#f6f7f9;border-bottom:1px solid #dde;padding:.7rem 2rem;
display:flex;gap:1rem;align-items:center;flex-wrap:wrap;z-index:1}
header h1{font-size:1.2rem;margin:0}main{padding:1rem 2rem;max-width:70rem}
input,textarea,select{font:13px ui-monospace,monospace;padding:.25rem .4rem;border:1px solid #bbc;border-radius:4px}
textarea{width:100%;min-height:6rem}button{padding:.3rem .9rem;border-radius:4px;border:1px solid #35a;background:#35a;color:#fff;cursor:pointer}
details.op{border:1px solid #dde;border-radius:6px;margin:.4rem 0}details.op>summary{padding:.45rem .7rem;cursor:pointer;list-style:none}
details.op[open]>summary{border-bottom:1px solid #dde;background:#fafbfc}.op .body{padding:.6rem .9rem}
.m{display:inline-block;min-width:4.2rem;font:bold 12px ui-monospace,monospace}.get{color:#070}.post{color:#05a}
.put,.patch{color:#a60}.delete{color:#a00}.head,.options{color:#666}code,pre{font:12.5px ui-monospace,monospace}
pre{background:#f4f5f7;padding:.5rem;border-radius:4px;overflow:auto;max-height:24rem;margin:.3rem 0}
table{border-collapse:collapse;width:100%;margin:.3rem 0}td,th{border-bottom:1px solid #e5e7eb;padding:.3rem;text-align:left;vertical-align:top}
h2{margin:1.4rem 0 .4rem;font-size:1.05rem;text-transform:capitalize}h4{margin:.8rem 0 .2rem}
.status{font-weight:bold}.ok{color:#070}.err{color:#a00}.muted{color:#667}.lock{font-size:11px;color:#a60;margin-left:.4rem}
`;

/** The browser side: renders the embedded document and runs "try it" calls. */
const SCRIPT = `
const spec = JSON.parse(document.getElementById("openapi").textContent);
const coreErrors = JSON.parse(document.getElementById("core-errors").textContent);
const $ = (tag, attrs = {}, ...children) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") el.className = v; else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c != null) el.append(c instanceof Node ? c : String(c));
  return el;
};
/** A little Markdown: paragraphs, \`code\` and **bold**, from escaped text. */
function md(text) {
  const div = document.createElement("div");
  for (const para of String(text || "").split(/\\n\\s*\\n/)) {
    const p = document.createElement("p");
    p.textContent = para;
    p.innerHTML = p.innerHTML.replace(/\`([^\`]+)\`/g, "<code>$1</code>").replace(/\\*\\*([^*]+)\\*\\*/g, "<b>$1</b>");
    div.append(p);
  }
  return div;
}
function resolve(schema, depth = 0) {
  if (schema && schema.$ref && depth < 20) {
    const name = schema.$ref.split("/").pop();
    return resolve((spec.components?.schemas || {})[name] || {}, depth + 1);
  }
  return schema || {};
}
/** The schema inlined (refs resolved, bounded depth), to show as JSON. */
function inline(schema, depth = 0) {
  const s = resolve(schema);
  if (depth > 6) return {};
  const out = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === "properties") out.properties = Object.fromEntries(Object.entries(v).map(([n, p]) => [n, inline(p, depth + 1)]));
    else if (k === "items" || k === "additionalProperties") out[k] = typeof v === "object" ? inline(v, depth + 1) : v;
    else if (k === "anyOf" || k === "oneOf" || k === "allOf") out[k] = v.map((x) => inline(x, depth + 1));
    else out[k] = v;
  }
  return out;
}
/** An example value for a schema: its example, default, first enum value, or one built up. */
function example(schema, depth = 0) {
  const s = resolve(schema);
  if (s.example !== undefined) return s.example;
  if (s.examples && s.examples.length) return s.examples[0];
  if (s.default !== undefined) return s.default;
  if (s.const !== undefined) return s.const;
  if (s.enum) return s.enum[0];
  if (depth > 5) return null;
  const alt = s.anyOf || s.oneOf;
  if (alt) return example(alt[0], depth + 1);
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  if (type === "object" || s.properties) {
    const out = {};
    for (const [n, p] of Object.entries(s.properties || {})) {
      if ((s.required || []).includes(n) || depth === 0) out[n] = example(p, depth + 1);
    }
    return out;
  }
  if (type === "array") return [example(s.items || {}, depth + 1)];
  if (type === "integer" || type === "number") return s.minimum ?? 1;
  if (type === "boolean") return true;
  if (type === "string") return s.format === "binary" ? "hello" : "string";
  return null;
}
const pretty = (v) => JSON.stringify(v, null, 2);
function keyInput() { return document.getElementById("apikey"); }

function operation(path, method, op) {
  const params = op.parameters || [];
  const body = op.requestBody?.content || {};
  const bodyType = Object.keys(body)[0];
  const locked = (op.security || []).length > 0;
  const summary = $("summary", {}, $("span", { class: "m " + method }, method.toUpperCase()), " ",
    $("code", {}, path), " ", $("span", { class: "muted" }, op.summary || ""),
    locked ? $("span", { class: "lock", title: "needs an API key" }, "key: " + (op["x-required-scope"] || "yes")) : null);
  const body$ = $("div", { class: "body" });
  if (op.description) body$.append(md(op.description));
  const inputs = {};
  if (params.length) {
    body$.append($("h4", {}, "Parameters"));
    const table = $("table", {}, $("tr", {}, $("th", {}, "name"), $("th", {}, "in"), $("th", {}, "value"), $("th", {}, "description")));
    for (const p of params) {
      const input = $("input", { name: p.name, "data-in": p.in, placeholder: p.required ? "required" : "" });
      const ex = p.example ?? p.schema?.example ?? p.schema?.default;
      if (p.required && ex !== undefined) input.value = String(ex);
      inputs[p.in + ":" + p.name] = input;
      table.append($("tr", {}, $("td", {}, $("code", {}, p.name), p.required ? "*" : ""), $("td", {}, p.in), $("td", {}, input), $("td", {}, md(p.description || p.schema?.description || ""))));
    }
    body$.append(table);
  }
  let bodyInput;
  if (bodyType) {
    const schema = body[bodyType].schema || {};
    body$.append($("h4", {}, "Request body ", $("code", {}, bodyType)));
    body$.append($("pre", {}, pretty(inline(schema))));
    const ex = body[bodyType].example ?? example(schema);
    bodyInput = $("textarea", { name: "body" });
    bodyInput.value = typeof ex === "string" ? ex : pretty(ex);
  }
  body$.append($("h4", {}, "Responses"));
  const responses = $("table", {}, $("tr", {}, $("th", {}, "status"), $("th", {}, "description"), $("th", {}, "schema")));
  for (const [status, r] of Object.entries(op.responses || {})) {
    const content = r.content || {};
    const type = Object.keys(content)[0];
    const schema = type ? content[type].schema : undefined;
    const codes = [...String(r.description || "").matchAll(/\\b([a-z]+\\.[a-z_]+)\\b/g)].map((m) => m[1]);
    responses.append($("tr", {}, $("td", { class: "status " + (status < 400 ? "ok" : "err") }, status),
      $("td", {}, md(r.description || ""), codes.length ? $("div", { class: "muted" }, "codes: ", codes.map((c) => $("code", {}, c + " "))) : null),
      $("td", {}, schema ? $("details", {}, $("summary", {}, type), $("pre", {}, pretty(inline(schema))), $("div", { class: "muted" }, "example"), $("pre", {}, pretty(example(schema)))) : "")));
  }
  body$.append(responses);
  const result = $("div", { class: "result" });
  const send = async () => {
    let url = path;
    const query = new URLSearchParams();
    const headers = {};
    for (const p of params) {
      const value = inputs[p.in + ":" + p.name].value;
      if (value === "") continue;
      if (p.in === "path") url = url.replace("{" + p.name + "}", encodeURIComponent(value));
      else if (p.in === "query") query.append(p.name, value);
      else if (p.in === "header") headers[p.name] = value;
    }
    if (query.size) url += "?" + query;
    const key = keyInput().value.trim();
    if (key) headers.authorization = "Bearer " + key;
    const init = { method: method.toUpperCase(), headers };
    if (bodyInput && init.method !== "GET" && init.method !== "HEAD") {
      init.body = bodyInput.value;
      headers["content-type"] = bodyType === "*/*" ? "application/octet-stream" : bodyType;
    }
    result.replaceChildren($("div", { class: "muted" }, init.method + " " + url + " ..."));
    try {
      const response = await fetch(url, init);
      const text = await response.text();
      let shown = text;
      try { shown = pretty(JSON.parse(text)); } catch { /* not JSON */ }
      result.replaceChildren(
        $("div", {}, $("span", { class: "status " + (response.ok ? "ok" : "err"), "data-status": response.status }, response.status + " " + response.statusText), " ",
          $("span", { class: "muted" }, (response.headers.get("content-type") || "") + "  x-request-id: " + (response.headers.get("x-request-id") || ""))),
        $("pre", { class: "response" }, shown));
    } catch (error) {
      result.replaceChildren($("div", { class: "err" }, String(error)));
    }
  };
  body$.append($("h4", {}, "Try it"));
  if (bodyInput) body$.append(bodyInput);
  body$.append($("div", {}, $("button", { type: "button", onclick: send, "data-try": method.toUpperCase() + " " + path }, "Send")), result);
  return $("details", { class: "op", id: method + " " + path }, summary, body$);
}

const groups = new Map();
for (const [path, ops] of Object.entries(spec.paths || {})) {
  for (const [method, op] of Object.entries(ops)) {
    if (!["get", "head", "post", "put", "patch", "delete", "options"].includes(method)) continue;
    const tag = (op.tags || [])[0] || "other";
    if (!groups.has(tag)) groups.set(tag, []);
    groups.get(tag).push(operation(path, method, op));
  }
}
const main = document.querySelector("main");
for (const [tag, ops] of groups) main.append($("h2", {}, tag), ...ops);
main.append($("h2", {}, "Error codes"), md("Every error is \`application/problem+json\` with a stable \`code\` (plugins name theirs \`<plugin>.<reason>\`, listed in each operation's answers) and the request id."));
const errors = $("table", {}, $("tr", {}, $("th", {}, "code"), $("th", {}, "status"), $("th", {}, "title")));
for (const [code, e] of Object.entries(coreErrors)) errors.append($("tr", {}, $("td", {}, $("code", {}, code)), $("td", {}, e.status), $("td", {}, e.title)));
main.append(errors);
const key = keyInput();
key.value = sessionStorage.getItem("edgebox-api-key") || "";
key.addEventListener("input", () => sessionStorage.setItem("edgebox-api-key", key.value));
document.getElementById("filter").addEventListener("input", (e) => {
  const q = e.target.value.toLowerCase();
  for (const op of document.querySelectorAll("details.op")) op.hidden = q !== "" && !op.id.toLowerCase().includes(q) && !op.textContent.toLowerCase().includes(q);
});
`;

/** Renders the interactive reference for an OpenAPI document as one self-contained page. */
export function docsPage(spec: unknown): string {
  const doc = spec as { info?: { title?: string; version?: string } };
  const title = escape(doc.info?.title ?? "edgebox");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<link rel="icon" href="data:,">
<title>${title} API</title><style>${STYLE}</style></head><body>
<header><h1>${title} <small class="muted">${escape(doc.info?.version ?? "")}</small></h1>
<label>API key <input id="apikey" type="password" autocomplete="off" placeholder="sent as Authorization: Bearer"></label>
<label>Filter <input id="filter" type="search" placeholder="path, method, text"></label>
<a href="/openapi.json">openapi.json</a></header>
<main></main>
<script type="application/json" id="openapi">${scriptJson(spec)}</script>
<script type="application/json" id="core-errors">${scriptJson(coreErrors)}</script>
<script>${SCRIPT}</script>
</body></html>`;
}
