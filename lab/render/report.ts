// The CLI's `--html` report: one self-contained page — tables, text, traces, and every chart drawn
// in the browser by vega-embed, whose bundles (vega, vega-lite, vega-embed, from node_modules) are
// inlined in the page, so it opens offline and asks the network for nothing. Each chart's
// container first holds the chart pre-rendered as SVG (shown where scripts do not run); vega-embed
// replaces it with the live chart (tooltips, export menu off).

import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { createRequire } from "node:module";
import { formatError, type ChartResult, type Result } from "../results.js";
import { escapeHtml, renderHtml } from "./html.js";

/** The UMD bundles, in load order (vega-embed expects the globals `vega` and `vegaLite`). */
const BUNDLES: readonly [string, string][] = [["vega", "build/vega.min.js"], ["vega-lite", "build/vega-lite.min.js"], ["vega-embed", "build/vega-embed.min.js"]];

/** A package's folder (its "exports" hide build/ from require.resolve): up from its main entry to node_modules/NAME. */
function packageDir(name: string, require: NodeRequire): string {
  let dir = dirname(require.resolve(name));
  for (;;) {
    if (basename(dir) === name && basename(dirname(dir)) === "node_modules" && existsSync(join(dir, "package.json"))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the ${name} package`);
    dir = up;
  }
}

let scripts: string | undefined;

/** The bundles as inline <script> elements (read once; "</script" cannot end them early). */
function bundledScripts(): string {
  if (scripts !== undefined) return scripts;
  const require = createRequire(import.meta.url);
  scripts = BUNDLES.map(([pkg, file]) => `<script>${readFileSync(join(packageDir(pkg, require), file), "utf8").replace(/<\/script/gi, "<\\/script")}</script>`).join("\n");
  return scripts;
}

const STYLE = `body{font-family:sans-serif;margin:2em;max-width:1100px}pre{background:#f6f6f6;padding:.5em;overflow-x:auto}
.exitlab-error{background:#fdd}table.exitlab{border-collapse:collapse;margin:.5em 0}caption{text-align:left;font-weight:bold;padding:.3em 0}
table.exitlab td,table.exitlab th{border:1px solid #ccc;padding:2px 6px}td.number,td.hex{text-align:right;font-family:monospace}
figure.exitlab-chart{margin:1em 0}figure.exitlab-chart figcaption{color:#555;font-size:90%}`;

/** JSON for a <script> element: no "</" that could close it. */
const scriptJson = (v: unknown): string => JSON.stringify(v).replace(/</g, "\\u003c");

function chartHtml(r: ChartResult, n: number, svg: string | undefined): string {
  return `<figure class="exitlab-chart"><div class="exitlab-vega" id="chart-${n}" data-spec="spec-${n}">${svg ?? ""}</div><figcaption>${escapeHtml(r.summary)}</figcaption><script type="application/json" id="spec-${n}">${scriptJson(r.spec)}</script></figure>`;
}

/** Draws every chart; marks each container `data-drawn="yes"` (or "error" with the message) when done. */
const DRAW = `<script>
(function () {
  var charts = document.querySelectorAll(".exitlab-vega");
  var left = charts.length;
  document.body.setAttribute("data-charts", String(left));
  charts.forEach(function (el) {
    var spec = JSON.parse(document.getElementById(el.getAttribute("data-spec")).textContent);
    var fallback = el.innerHTML;
    el.innerHTML = "";
    vegaEmbed(el, spec, { actions: false, renderer: "svg" }).then(function () {
      el.setAttribute("data-drawn", "yes");
    }, function (e) {
      el.innerHTML = fallback;
      el.setAttribute("data-drawn", "error");
      console.error("chart " + el.id + ": " + e);
    }).finally(function () {
      if (--left === 0) document.body.setAttribute("data-charts-drawn", "yes");
    });
  });
  if (left === 0) document.body.setAttribute("data-charts-drawn", "yes");
})();
</script>`;

/**
 * The report page for a run's results: `svgs` are the charts pre-rendered (by result index), shown
 * until vega-embed has drawn them. Deterministic: the same results give the same bytes.
 */
export function renderReportPage(title: string, results: readonly Result[], svgs: ReadonlyMap<number, string> = new Map()): string {
  let n = 0;
  const body = results.map((r, i) => (r.kind === "chart" ? chartHtml(r, ++n, svgs.get(i)) : r.kind === "error" ? `<pre class="exitlab-error">${escapeHtml(formatError(r))}</pre>` : renderHtml(r))).join("\n");
  const libs = n ? bundledScripts() : "";
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${STYLE}</style>\n${libs}</head>\n<body><h1>${escapeHtml(title)}</h1>\n${body}\n${n ? DRAW : ""}</body></html>\n`;
}
