// The TypeScript API in a tslab notebook: show exitlab Results through tslab's display channel.
// tslab's public `display` sends one MIME type per output; its jupyter module's
// lastWriteDisplayData (set while a cell runs) sends a whole bundle, so a chart arrives as ONE
// display_data with vega-lite, SVG, PNG and text, as in the exitlab kernel. Outside tslab
// (plain node, the CLI) displayResults does nothing; underTslab() tells which. It returns nothing, so
// `await displayResults(...)` as the last line of a cell adds no stray value to its output.

import { createRequire } from "node:module";
import { join } from "node:path";
import type { Result } from "../lab/results.js";
import { resultBundle } from "./mime.js";

type WriteDisplayData = (data: { data: Record<string, unknown>; metadata: object; transient: object }, update: boolean) => void;

/** tslab's jupyter module as loaded by the running tslab kernel (same module cache), if any. */
function tslabWriter(): WriteDisplayData | undefined {
  for (const base of [join(process.cwd(), "noop.js"), import.meta.url]) {
    try {
      const req = createRequire(base);
      const jupyter = req(req.resolve("tslab").replace(/public\.js$/, "jupyter.js")) as { lastWriteDisplayData?: WriteDisplayData | null };
      if (typeof jupyter.lastWriteDisplayData === "function") return jupyter.lastWriteDisplayData;
    } catch {
      /* not under tslab from here */
    }
  }
  return undefined;
}

/** True when this code runs in a tslab kernel's cell (displayResults shows results there). */
export function underTslab(): boolean {
  return tslabWriter() !== undefined;
}

/**
 * Display results in the current tslab cell, one display_data per result (charts as vega-lite,
 * SVG, PNG and text in one bundle; errors as text). Outside tslab it does nothing.
 */
export async function displayResults(results: readonly Result[]): Promise<void> {
  const write = tslabWriter();
  if (!write) return;
  const { formatError } = await import("../lab/results.js");
  for (const r of results) {
    const data = r.kind === "error" ? { "text/plain": formatError(r) } : await resultBundle(r);
    write({ data, metadata: {}, transient: {} }, false);
  }
}
