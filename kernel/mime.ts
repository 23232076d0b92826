// exitlab Results as Jupyter MIME bundles: shared by the kernel backend and the tslab display
// adapter so both front ends show the same thing. Chart pictures are rendered lazily.

import type { MimeBundle } from "./backend.js";
import type { Result, TableResult } from "../lab/results.js";

/**
 * The most trace lines and table rows one output carries. A notebook front end slows to a crawl
 * on tens of megabytes of output (a long run's trace is easily that), and Jupyter rate-limits
 * iopub; past these the output keeps its beginning and its end and says what was left out.
 * The CLI prints everything.
 */
export const DISPLAY_LIMITS = { traceLines: 2000, tableRows: 1000 };

function clipTrace(lines: readonly string[], limit = DISPLAY_LIMITS.traceLines): string[] {
  if (lines.length <= limit) return [...lines];
  const half = limit >> 1;
  const hidden = lines.length - 2 * half;
  return [
    ...lines.slice(0, half),
    `… ${hidden} lines not shown: \`show trace last N\` shows the end, \`save trace "FILE"\` writes them all`,
    ...lines.slice(-half),
  ];
}

function clipTable(t: TableResult, limit = DISPLAY_LIMITS.tableRows): TableResult {
  if (t.rows.length <= limit) return t;
  const half = limit >> 1;
  return { ...t, title: `${t.title} (the first ${half} and last ${half} of ${t.rows.length} rows)`, rows: [...t.rows.slice(0, half), ...t.rows.slice(-half)] };
}

/** The bundle for one non-error result; charts get vega-lite + SVG + PNG + a text summary. */
export async function resultBundle(r: Exclude<Result, { kind: "error" }>): Promise<MimeBundle> {
  const lab = await import("../lab/index.js");
  switch (r.kind) {
    case "text": case "value": case "print":
      return { "text/plain": r.text };
    case "trace":
      return { "text/plain": clipTrace(r.lines).join("\n") };
    case "table": {
      const shown = clipTable(r);
      return { "text/html": lab.renderHtml(shown), "text/plain": lab.renderTable(shown) };
    }
    case "chart": {
      const data: MimeBundle = { "application/vnd.vegalite.v5+json": r.spec, "text/plain": r.summary };
      try {
        const { renderChartSvg, renderChartPng } = await import("../lab/render/image.js");
        data["image/svg+xml"] = await renderChartSvg(r.spec);
        data["image/png"] = Buffer.from(await renderChartPng(r.spec)).toString("base64");
      } catch (e) {
        process.stderr.write(`[exitlab] chart rendering failed: ${(e as Error).message}\n`);
      }
      return data;
    }
  }
}
