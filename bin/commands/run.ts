// `exitlab run FILE.exl [--json] [--html OUT.html]`: results on stdout, errors on stderr.

import { writeFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { executeInterruptibly } from "./execute.js";
import { formatError, type Result } from "../../lab/results.js";
import { renderText } from "../../lab/render/text.js";
import { renderJson } from "../../lab/render/json.js";
import { renderReportPage } from "../../lab/render/report.js";
import { readProgram, usageFailure } from "./io.js";

export function exitCodeOf(results: readonly Result[]): number {
  const errors = results.filter((r) => r.kind === "error");
  if (errors.some((e) => e.kind === "error" && e.name === "SyntaxError")) return 2;
  return errors.length ? 1 : 0;
}

export async function runCommand(args: string[]): Promise<number> {
  let file: string | undefined;
  let json = false;
  let html: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--json") json = true;
    else if (a === "--html") {
      html = args[++i];
      if (!html) return usageFailure("--html needs an output file");
    } else if (a.startsWith("--")) return usageFailure(`unknown option ${a}`);
    else if (file === undefined) file = a;
    else return usageFailure(`unexpected argument ${a}`);
  }
  if (!file) return usageFailure("run needs a program file (or - for standard input)");
  const read = readProgram(file);
  if ("status" in read) return read.status;
  const { source } = read;
  const results = await executeInterruptibly(source, { stopOnError: true, baseDir: file === "-" ? process.cwd() : dirname(resolve(file)) });
  if (json) process.stdout.write(renderJson(results));
  for (const r of results) {
    if (r.kind === "error") process.stderr.write(`${file === "-" ? "<stdin>" : file}: ${formatError(r)}\n`);
    else if (!json) process.stdout.write(renderText(r) + "\n");
  }
  if (html) {
    const svgs = new Map<number, string>();
    const charts = results.map((r, i) => [r, i] as const).filter(([r]) => r.kind === "chart");
    if (charts.length) {
      const { renderChartSvg } = await import("../../lab/render/image.js");
      for (const [r, i] of charts) if (r.kind === "chart") svgs.set(i, await renderChartSvg(r.spec));
    }
    writeFileSync(html, renderReportPage(`exitlab: ${basename(file)}`, results, svgs));
    // Each chart also as its own SVG next to the report: OUT-chart-1.svg, ...
    let n = 0;
    for (const svg of svgs.values()) writeFileSync(html.replace(/\.html?$/i, "") + `-chart-${++n}.svg`, svg);
  }
  return exitCodeOf(results);
}
