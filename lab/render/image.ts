// Charts as pictures: a vega-lite v5 spec → SVG (vega's headless renderer) → PNG (resvg).
// vega, vega-lite and resvg are heavy, so they are loaded on first use, never at start-up.
// Output is deterministic: no timestamps, a fixed font file, a fixed background.

import { existsSync } from "node:fs";

/** A vega-lite v5 specification (data inline). */
export type VegaLiteSpec = Record<string, unknown>;

// Debian's fonts-dejavu-core (installed by .ci/run); resvg draws no text without a font file.
const FONT_FILES = [
  "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
  "/usr/share/fonts/TTF/DejaVuSans.ttf",
];
const FONT_FAMILY = "DejaVu Sans";

let libs: Promise<{ vega: typeof import("vega"); vl: typeof import("vega-lite") }> | undefined;

function loadLibs() {
  libs ??= Promise.all([import("vega"), import("vega-lite")]).then(([vega, vl]) => ({ vega, vl }));
  return libs;
}

/** Render a vega-lite spec to an SVG document. */
export async function renderChartSvg(spec: VegaLiteSpec): Promise<string> {
  const { vega, vl } = await loadLibs();
  const withFont = {
    ...spec,
    config: { font: FONT_FAMILY, background: "white", ...((spec.config as object) ?? {}) },
  };
  const compiled = vl.compile(withFont as never).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Render a vega-lite spec to PNG bytes (2x scale for crisp notebooks). */
export async function renderChartPng(spec: VegaLiteSpec, scale = 2): Promise<Uint8Array> {
  const svg = await renderChartSvg(spec);
  const { Resvg } = await import("@resvg/resvg-js");
  const fontFiles = FONT_FILES.filter((f) => existsSync(f));
  const resvg = new Resvg(svg, {
    fitTo: { mode: "zoom", value: scale },
    background: "white",
    font: { fontFiles, loadSystemFonts: fontFiles.length === 0, defaultFontFamily: FONT_FAMILY },
  });
  return new Uint8Array(resvg.render().asPng());
}
