// Results as terminal text: aligned tables (numbers right-aligned), charts as a one-line summary,
// traces as their lines, errors in the caret format.

import { formatError, type Result, type TableResult } from "../results.js";

export function renderTable(t: TableResult): string {
  const head = t.columns.map((c) => c.name);
  const body = t.rows.map((r) => r.map((c) => String(c)));
  // One pass over the rows (a spread of one argument per row overflows the stack past ~100 k rows).
  const widths = head.map((h) => h.length);
  for (const r of body) for (let i = 0; i < widths.length; i++) widths[i] = Math.max(widths[i]!, (r[i] ?? "").length);
  const right = t.columns.map((c) => c.type === "number");
  const line = (r: string[]) => r.map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd();
  const out = [t.title, line(head), widths.map((w) => "-".repeat(w)).join("  ")];
  for (const r of body) out.push(line(r));
  return out.join("\n");
}

export function renderText(r: Result): string {
  switch (r.kind) {
    case "text": case "value": case "print": return r.text;
    case "table": return renderTable(r);
    case "chart": return `[chart] ${r.summary}`;
    case "trace": return [`-- ${r.title} --`, ...r.lines].join("\n");
    case "error": return formatError(r);
  }
}

export function renderAllText(results: readonly Result[]): string {
  return results.map(renderText).join("\n") + (results.length ? "\n" : "");
}
