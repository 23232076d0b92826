// `npm start`: the talk's experiment. Boots the built-in MMU-enable guest on both modelled
// machines, prints each guest's console output, its exit trace and a summary table, and writes
// charts of the exits (SVG) to out/.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Machine } from "../runtime/core/machine.js";
import { renderChartSvg } from "../lab/render/image.js";
import { renderTable } from "../lab/render/text.js";
import { ARCH_COLOURS } from "../lab/charts.js";

interface BootRun {
  title: string;
  arch: string;
  load: () => Promise<{ machine: Machine; traceLines: string[]; summary: { reason: string; count: number; cycles: number }[] }>;
}

const RUNS: BootRun[] = [
  {
    title: "ARMv8 (stage 2, 64 KiB host pages), KVM/arm64 as in the talk (2015)",
    arch: "arm64",
    load: async () => (await import("../runtime/arm64/demo.js")).runArm64Boot(),
  },
  {
    title: "Intel VMX (EPT), KVM/VMX as of Linux 4.1",
    arch: "x86_64",
    load: async () => (await import("../runtime/x86/demo.js")).runX86Boot(),
  },
];

/** One horizontal bar per exit reason, a row of bars per architecture in its colour (vega-lite 5). */
function barChart(values: object[], title: string, field: string, axis: string): object {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title,
    data: { values },
    mark: "bar",
    encoding: {
      row: { field: "arch", type: "nominal", title: null },
      y: { field: "reason", type: "nominal", sort: "-x", title: null },
      x: { field, type: "quantitative", title: axis },
      color: { field: "arch", type: "nominal", scale: { domain: ["arm64", "x86_64"], range: [ARCH_COLOURS.arm64[0], ARCH_COLOURS.x86_64[0]] }, legend: null },
    },
  };
}

async function main(): Promise<number> {
  const outDir = process.env.EXITLAB_OUT ?? "out";
  mkdirSync(outDir, { recursive: true });
  const byArch: { arch: string; reason: string; count: number; cycles: number }[] = [];
  let status = 0;
  for (const run of RUNS) {
    console.log(`\n=== ${run.title} ===`);
    const { machine, traceLines, summary } = await run.load();
    console.log(`\n-- guest console --\n${machine.console.trimEnd()}`);
    // kvm_entry follows every handled exit; it is left out here to keep the trace readable.
    const shown = traceLines.filter((l) => !l.startsWith("kvm_entry:"));
    console.log(`\n-- exit trace (${traceLines.length} events; ${traceLines.length - shown.length} kvm_entry lines not shown) --\n${shown.join("\n")}`);
    const rows = summary.map((s) => [s.reason, s.count, s.cycles]);
    const total = summary.reduce((a, s) => ({ count: a.count + s.count, cycles: a.cycles + s.cycles }), { count: 0, cycles: 0 });
    rows.push(["total", total.count, total.cycles]);
    const columns = [{ name: "reason", type: "string" }, { name: "exits", type: "number" }, { name: "cycles", type: "number" }] as const;
    console.log(`\n${renderTable({ kind: "table", title: "-- exits by reason (modelled host cycles) --", columns: [...columns], rows, line: 0 })}`);
    console.log(`\nguest instructions: ${machine.steps}; stopped: ${machine.halted?.message ?? "not halted"}`);
    if (!machine.halted) status = 1;
    for (const s of summary) byArch.push({ arch: run.arch, ...s });
  }
  const charts: [string, object][] = [
    ["exits-by-reason.svg", barChart(byArch, "Exits while booting the MMU-enable guest", "count", "exits")],
    ["cycles-by-reason.svg", barChart(byArch, "Modelled cost of those exits", "cycles", "host cycles")],
  ];
  console.log("");
  for (const [file, spec] of charts) {
    const path = join(outDir, file);
    writeFileSync(path, await renderChartSvg(spec as Record<string, unknown>));
    console.log(`chart written: ${path}`);
  }
  return status;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
    process.exit(1);
  },
);
