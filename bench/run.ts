// `npm run bench`: exitlab's speed and memory targets (DESIGN, issue 12), each measured here and
// now beside its anchor — QEMU user mode running the same loop in the same run, interleaved round
// by round — and printed as value, anchor value, ratio of medians and target. No number is stored.
//
//   node dist/bench/run.js [--json FILE]
//   EXITLAB_BENCH_SCALE   multiplies every iteration count (default 1: ~1 s per exitlab run)
//   EXITLAB_BENCH_ROUNDS  interleaved rounds of measures 1-3 (default 5)
//   EXITLAB_BENCH_EXITS   exits of the memory measure (default 1,000,000: the exit cap; the target is at 10 M)
//   EXITLAB_BENCH_TRACE_EVENTS   events of the generated trace the load measure reads (default 10,000,000)
//
// A missing QEMU, cross binutils or kvm-unit-tests folder skips that figure with the reason; the
// benchmark itself never fails for it.

import { writeFileSync } from "node:fs";
import { AnchorLab } from "./anchor.js";
import { counts, pairSpecs, runPairs, type PairResult } from "./measure.js";
import { benchMemory, formatMiB, type MemoryResult } from "./memory.js";
import { benchKut, type KutResult } from "./kut.js";
import type { KernelMeasure } from "./kernel.js";
import { benchTraces, TRACE_TARGET_RSS, type TraceBenchResult } from "./traces.js";

/** One row of the table, and one entry of the JSON file. */
interface Figure {
  id: string;
  measure: string;
  value: number | null;
  unit: string;
  anchor: number | null;
  anchorLabel: string;
  ratio: number | null;
  target: string;
  met: boolean | null;
  note: string;
  extrapolated?: boolean;
  /** Text for the value/anchor columns when not a plain number + unit. */
  valueText?: string;
  anchorText?: string;
  samples?: unknown;
}

function envNumber(name: string, fallback: number, integer: boolean): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    console.error(`${name}=${raw} is not a positive ${integer ? "integer" : "number"}; using ${fallback}`);
    return fallback;
  }
  return v;
}

const fmt = (v: number, unit: string): string => {
  if (!Number.isFinite(v)) return "—";
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 1 ? 2 : 4;
  return `${v.toLocaleString("en-US", { maximumFractionDigits: digits })} ${unit}`;
};
const fmtRatio = (r: number | null): string => (r === null || !Number.isFinite(r) ? "—" : r >= 1 ? `${r.toFixed(2)}×` : `${r.toPrecision(2)} (1/${Math.round(1 / r).toLocaleString("en-US")})`);

function pairFigure(r: PairResult): Figure {
  return {
    id: r.spec.id,
    measure: r.spec.name,
    value: r.value,
    unit: r.spec.unit,
    anchor: r.anchor ?? null,
    anchorLabel: r.spec.anchorLabel,
    anchorText: r.anchorMissing ? (/not installed/.test(r.anchorMissing) ? "anchor not installed" : "anchor failed") : undefined,
    ratio: r.ratio ?? null,
    target: r.spec.target,
    met: r.met ?? null,
    note: r.anchorMissing ? `${r.anchorMissing}; ${r.note}` : `anchor ${r.spec.anchorLabel}; ${r.note}`,
    samples: {
      exitlab: r.exitlabSamples.map((s) => ({ work: s.work, ms: Number(s.ms.toFixed(2)) })),
      anchor: r.anchorSamples.map((t) => ({ fullMs: Number(t.full.toFixed(2)), emptyMs: Number(t.empty.toFixed(2)) })),
      anchorWork: r.spec.anchorWork,
    },
  };
}

function memoryFigures(m: MemoryResult): Figure[] {
  const base = { anchor: null, anchorLabel: "", anchorText: "—", ratio: null };
  if (m.error || !m.full || !m.base) {
    return [{ id: `${m.arch}_memory`, measure: `${m.arch} memory for many exits`, value: null, unit: "bytes", ...base, target: "10 M exits < 256 MiB peak RSS", met: null, note: m.error ?? "not measured" }];
  }
  const n = m.full.exits.toLocaleString("en-US");
  return [
    { id: `${m.arch}_memory_peak`, measure: `${m.arch} memory: peak RSS, ${n} exits`, value: m.full.maxRssBytes, unit: "bytes", valueText: formatMiB(m.full.maxRssBytes), ...base, target: "", met: null, note: m.note },
    { id: `${m.arch}_memory_per_exit`, measure: `${m.arch} memory: bytes per kept exit`, value: m.bytesPerExit!, unit: "B/exit", ...base, target: "", met: null, note: "(RSS after − RSS before the run) / exits kept (the exit cap keeps the last 1,000,000): exit records + trace events + what the run left on the heap" },
    {
      id: `${m.arch}_memory_10M`,
      measure: `${m.arch} memory: peak RSS at 10 M exits${m.extrapolated ? " (EXTRAPOLATED)" : ""}`,
      value: m.at10M!,
      unit: "bytes",
      valueText: `${formatMiB(m.at10M!)}${m.extrapolated ? " (extrap.)" : ""}`,
      ...base,
      target: "< 256 MiB",
      met: m.met ?? null,
      extrapolated: m.extrapolated,
      note: m.extrapolated ? `extrapolated from ${n} exits, not measured: baseline + 10 M × bytes per exit` : "measured",
    },
  ];
}

function kutFigures(k: KutResult): Figure[] {
  const out: Figure[] = [];
  out.push({
    id: "kut_boot",
    measure: "kvm-unit-tests arm64 selftest: machine → first PASS",
    value: k.exitlab?.msToPass ?? null,
    unit: "ms",
    valueText: k.skipped ? "skipped" : k.exitlab?.msToPass === undefined ? "no PASS" : undefined,
    anchor: k.qemu?.msToPass ?? null,
    anchorLabel: "qemu-system-aarch64",
    anchorText: k.qemuMissing ?? (k.qemu && k.qemu.msToPass === undefined ? "no PASS" : undefined),
    ratio: k.exitlab?.msToPass !== undefined && k.qemu?.msToPass !== undefined ? k.qemu.msToPass / k.exitlab.msToPass : null,
    target: "< 1 s",
    met: k.exitlab?.msToPass !== undefined ? k.exitlab.msToPass < 1000 : null,
    note: k.note,
  });
  return out;
}

/** Trace-load figures: exitlab's load, `table … by reason` and SQL group-by beside DuckDB's read_csv and group-by of the same events. */
function traceFigures(t: TraceBenchResult): Figure[] {
  const n = t.generated.events.toLocaleString("en-US");
  const ex = t.exitlab;
  const dk = t.duck;
  const counts = t.mismatches.length ? `COUNTS DIFFER: ${t.mismatches.slice(0, 3).join("; ")}` : "counts by reason agree with the generated trace (table, sql, DuckDB)";
  const err = t.error ? `${t.error}; ` : "";
  const rate = (ms: number | undefined) => (ms === undefined ? null : t.generated.events / (ms / 1000));
  const ratio = (a: number | null, b: number | null) => (a !== null && b !== null && b > 0 ? a / b : null);
  const loadRate = rate(ex?.loadMs);
  const duckRate = rate(dk?.loadMs);
  const mb = (t.fileBytes / 1048576).toLocaleString("en-US", { maximumFractionDigits: 0 });
  return [
    { id: "trace_load", measure: `trace load: ${n} events (trace-cmd report, ${mb} MiB), streaming`, value: loadRate, unit: "events/s", anchor: duckRate, anchorLabel: "DuckDB read_csv", ratio: ratio(loadRate, duckRate), target: "", met: null, note: `${err}anchor: DuckDB read_csv of the same events as CSV into a table, same run; ${counts}` },
    { id: "trace_load_rss", measure: `trace load: peak RSS after loading ${n} events`, value: ex?.rssAfterLoad ?? null, unit: "bytes", valueText: ex ? formatMiB(ex.rssAfterLoad) : "—", anchor: null, anchorLabel: "", anchorText: "—", ratio: null, target: "< 512 MiB", met: ex ? ex.rssAfterLoad < TRACE_TARGET_RSS : null, note: ex ? `the load's child process; after the SQL table too: ${formatMiB(ex.rssEnd)}` : err },
    { id: "trace_table_by_reason", measure: "`table … by reason` on the loaded trace", value: ex?.tableMs ?? null, unit: "ms", anchor: dk?.groupMs ?? null, anchorLabel: "DuckDB group-by", ratio: ratio(dk?.groupMs ?? null, ex?.tableMs ?? null), target: "", met: null, note: "anchor: DuckDB's GROUP BY reason on its read_csv table (ratio = anchor time / exitlab time)" },
    { id: "trace_sql_group_by", measure: "`sql` group-by on the loaded trace (DuckDB, table registered)", value: ex?.sqlMs ?? null, unit: "ms", anchor: dk?.groupMs ?? null, anchorLabel: "DuckDB group-by", ratio: ratio(dk?.groupMs ?? null, ex?.sqlMs ?? null), target: "", met: null, note: ex ? `the first query started DuckDB and appended the trace's columns: ${Math.round(ex.sqlRegisterMs).toLocaleString("en-US")} ms` : err },
  ];
}

/**
 * Kernel figures: exitlab's cold start, first cell and round trip, each beside ipykernel's and
 * tslab's from the same run (ratio = anchor time / exitlab time: above 1, exitlab is faster).
 */
function kernelFigures(rows: KernelMeasure[]): Figure[] {
  const ex = rows.find((r) => r.kernel === "exitlab");
  const measures = [
    { key: "coldStartMs", id: "kernel_start", measure: "kernel start → kernel_info_reply", target: "< 300 ms", limit: 300 },
    { key: "firstCellMs", id: "kernel_first_cell", measure: "kernel start → first cell's reply", target: "", limit: null },
    { key: "roundTripMs", id: "kernel_round_trip", measure: `trivial cell round trip (median of ${ex?.cells ?? 30})`, target: "< 3 ms", limit: 3 },
  ] as const;
  const out: Figure[] = [];
  for (const m of measures) {
    for (const anchor of ["ipykernel", "tslab"] as const) {
      const a = rows.find((r) => r.kernel === anchor);
      const value = ex?.[m.key] ?? null;
      const anchorValue = a?.[m.key] ?? null;
      out.push({
        id: `${m.id}_${anchor}`,
        measure: `${m.measure} vs ${anchor}`,
        value,
        unit: "ms",
        valueText: ex?.skipped ? "skipped" : undefined,
        anchor: anchorValue,
        anchorLabel: anchor,
        anchorText: a?.skipped ? "skipped" : undefined,
        ratio: value !== null && anchorValue !== null ? anchorValue / value : null,
        target: m.target,
        met: value !== null && m.limit !== null ? value < m.limit : null,
        note: [ex?.skipped && `exitlab: ${ex.skipped}`, a?.skipped && `${anchor}: ${a.skipped}`, `cells: exitlab \`${ex?.cell}\`, ${anchor} \`${a?.cell}\``].filter(Boolean).join("; "),
      });
    }
  }
  return out;
}

function print(figures: Figure[]): void {
  const rows = figures.map((f) => [
    f.measure,
    f.valueText ?? (f.value === null ? "—" : fmt(f.value, f.unit)),
    f.anchorText ?? (f.anchor === null ? "—" : fmt(f.anchor, f.unit)),
    fmtRatio(f.ratio),
    f.target,
    f.met === null ? "" : f.met ? "yes" : "NO",
    f.note,
  ]);
  const head = ["measure", "exitlab", "anchor", "ratio", "target", "met", "note"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (i === 6 ? 0 : r[i]!.length))));
  const line = (r: string[]) => r.map((c, i) => (i === 6 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd();
  console.log([line(head), widths.map((w, i) => "-".repeat(i === 6 ? 4 : w)).join("  "), ...rows.map(line)].join("\n"));
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const j = argv.indexOf("--json");
  const jsonFile = j >= 0 ? argv[j + 1] : undefined;
  if (j >= 0 && !jsonFile) throw new Error("--json needs a file name");
  const scale = envNumber("EXITLAB_BENCH_SCALE", 1, false);
  const rounds = envNumber("EXITLAB_BENCH_ROUNDS", 5, true);
  const memExits = envNumber("EXITLAB_BENCH_EXITS", 1_000_000, true);
  const log = (s: string) => process.stderr.write(`bench: ${s}\n`);
  const figures: Figure[] = [];

  const lab = new AnchorLab();
  try {
    log(`building anchor programs; ${rounds} rounds at scale ${scale}`);
    const specs = pairSpecs(lab, counts(scale));
    figures.push(...runPairs(specs, rounds, log).map(pairFigure));
  } finally {
    lab.dispose();
  }

  log(`memory: ${memExits.toLocaleString("en-US")} exits per arch in child processes`);
  for (const m of await benchMemory(memExits)) figures.push(...memoryFigures(m));

  const traceEvents = envNumber("EXITLAB_BENCH_TRACE_EVENTS", 10_000_000, true);
  figures.push(...traceFigures(await benchTraces(traceEvents, log)));

  log("kvm-unit-tests arm64 boot");
  figures.push(...kutFigures(await benchKut()));

  log("kernel");
  const kernel = await import("./kernel.js");
  figures.push(...kernelFigures(await kernel.benchKernel()));

  print(figures);
  console.log(`\nrounds ${rounds}, EXITLAB_BENCH_SCALE ${scale}, EXITLAB_BENCH_EXITS ${memExits}, EXITLAB_BENCH_TRACE_EVENTS ${traceEvents}; ratio = exitlab median / anchor median (kvm-unit-tests and kernels: anchor time / exitlab time)`);
  if (jsonFile) {
    const doc = { date: new Date().toISOString(), node: process.version, platform: `${process.platform}-${process.arch}`, rounds, scale, memoryExits: memExits, traceEvents, figures };
    writeFileSync(jsonFile, `${JSON.stringify(doc, null, 2)}\n`);
    console.log(`figures written to ${jsonFile}`);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : String(e));
  process.exit(1);
});
