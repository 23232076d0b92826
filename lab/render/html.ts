// Results as HTML: escaped tables, <pre> for text and traces, charts as their vega-lite spec in a
// <script type="application/json"> plus the summary; and a standalone report page.

import { formatError, type Result, type TableResult } from "../results.js";

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

export function renderTableHtml(t: TableResult): string {
  const head = t.columns.map((c) => `<th>${escapeHtml(c.name)}</th>`).join("");
  const rows = t.rows
    .map((r) => "<tr>" + r.map((c, i) => `<td class="${t.columns[i]?.type ?? "string"}">${escapeHtml(String(c))}</td>`).join("") + "</tr>")
    .join("\n");
  return `<table class="exitlab"><caption>${escapeHtml(t.title)}</caption>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${rows}\n</tbody></table>`;
}

export function renderHtml(r: Result): string {
  switch (r.kind) {
    case "text": return `<pre class="exitlab-text">${escapeHtml(r.text)}</pre>`;
    case "value": case "print": return `<pre class="exitlab-${r.kind}">${escapeHtml(r.text)}</pre>`;
    case "table": return renderTableHtml(r);
    case "chart":
      return `<figure class="exitlab-chart"><figcaption>${escapeHtml(r.summary)}</figcaption><script type="application/json">${JSON.stringify(r.spec).replace(/</g, "\\u003c")}</script></figure>`;
    case "trace": return `<pre class="exitlab-trace" title="${escapeHtml(r.title)}">${escapeHtml(r.lines.join("\n"))}</pre>`;
    case "error": return `<pre class="exitlab-error">${escapeHtml(formatError(r))}</pre>`;
  }
}

const STYLE = `body{font-family:sans-serif;margin:2em}pre{background:#f6f6f6;padding:.5em}
.exitlab-error{background:#fdd}table.exitlab{border-collapse:collapse;margin:.5em 0}
table.exitlab td,table.exitlab th{border:1px solid #ccc;padding:2px 6px}td.number,td.hex{text-align:right;font-family:monospace}`;

/** A standalone page; charts are rendered by optional SVGs given per chart index. */
export function renderReport(title: string, results: readonly Result[], svgs: ReadonlyMap<number, string> = new Map()): string {
  const body = results.map((r, i) => (r.kind === "chart" && svgs.has(i) ? `<figure>${svgs.get(i)}<figcaption>${escapeHtml(r.summary)}</figcaption></figure>` : renderHtml(r))).join("\n");
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head>\n<body><h1>${escapeHtml(title)}</h1>\n${body}\n</body></html>\n`;
}
