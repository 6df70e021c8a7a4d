/**
 * A self-contained HTML page listing the API from the OpenAPI document: it works offline and
 * inside a single binary, where a CDN-hosted viewer would not.
 */

interface Operation {
  summary?: string;
  description?: string;
  tags?: string[];
  parameters?: { name: string; in: string; required?: boolean; description?: string }[];
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** Renders the operations of an OpenAPI document as one HTML page. */
export function docsPage(spec: unknown): string {
  const doc = spec as {
    info?: { title?: string; version?: string };
    paths?: Record<string, Record<string, Operation>>;
  };
  const rows: string[] = [];
  for (const [path, operations] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(operations)) {
      const params = (op.parameters ?? [])
        .map((p) => `<code>${escape(p.in)}.${escape(p.name)}</code>${p.required ? "*" : ""}`)
        .join(" ");
      rows.push(
        `<tr><td class="m ${escape(method)}">${escape(method.toUpperCase())}</td><td><code>${
          escape(path)
        }</code></td>` +
          `<td>${escape(op.summary ?? op.description ?? "")}</td><td>${params}</td></tr>`,
      );
    }
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>${escape(doc.info?.title ?? "edgebox")} API</title>
<style>body{font:14px system-ui,sans-serif;margin:2rem}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left;vertical-align:top}
.m{font-weight:bold;font-family:monospace}.get{color:#070}.post{color:#05a}.put,.patch{color:#a60}.delete{color:#a00}</style>
</head><body><h1>${escape(doc.info?.title ?? "edgebox")} <small>${
    escape(doc.info?.version ?? "")
  }</small></h1>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a>. Errors are <code>application/problem+json</code> with a stable <code>code</code>.</p>
<table><thead><tr><th>Method</th><th>Path</th><th>Summary</th><th>Parameters</th></tr></thead>
<tbody>${rows.join("\n")}</tbody></table></body></html>`;
}
