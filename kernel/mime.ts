// exitlab Results as Jupyter MIME bundles: shared by the kernel backend and the tslab display
// adapter so both front ends show the same thing. Chart pictures are rendered lazily.

import type { MimeBundle } from "./backend.js";
import type { Result } from "../lab/results.js";

/** The bundle for one non-error result; charts get vega-lite + SVG + PNG + a text summary. */
export async function resultBundle(r: Exclude<Result, { kind: "error" }>): Promise<MimeBundle> {
  const lab = await import("../lab/index.js");
  switch (r.kind) {
    case "text":
      return { "text/plain": r.text };
    case "trace":
      return { "text/plain": r.lines.join("\n") };
    case "table":
      return { "text/html": lab.renderHtml(r), "text/plain": lab.renderTable(r) };
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
