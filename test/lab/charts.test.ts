// The chart statement through a session: each spec compiles with vega-lite without a warning, its
// encodings and data say what the chart claims, filters leave out what they say, each
// architecture keeps its colour, and the charts render through the image path (SVG).

import { beforeAll, describe, expect, test } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as vl from "vega-lite";
import { Session } from "../../lab/session.js";
import type { ChartResult, ErrorResult, Result, TableResult } from "../../lab/results.js";
import { ARCH_COLOURS } from "../../lab/charts.js";
import { renderChartSvg } from "../../lab/render/image.js";

// biome-ignore lint/suspicious/noExplicitAny: vega-lite specs are read at any depth
type Spec = Record<string, any>;
type Row = { reason: string; exits: number; cycles: number; source?: string; step?: number };

let s: Session;
const dir = mkdtempSync(join(tmpdir(), "exitlab-charts-"));

beforeAll(async () => {
  s = await Session.create();
  const rs = s.execute(`vm boot x86_64 as intel\nrun until halt\nvm boot arm64 as arm\nrun until halt\nuse intel\nsave trace "${join(dir, "intel.trace")}"\nload trace "${join(dir, "intel.trace")}" as host`);
  expect(rs.filter((r) => r.kind === "error")).toEqual([]);
});

function charts(src: string): ChartResult[] {
  const rs = s.execute(src);
  expect(rs.filter((r) => r.kind === "error"), src).toEqual([]);
  return rs.filter((r): r is ChartResult => r.kind === "chart");
}
const chart = (src: string) => charts(src)[0]!;
function error(src: string): ErrorResult {
  const e = s.execute(src).filter((r): r is ErrorResult => r.kind === "error");
  expect(e.length, src).toBe(1);
  return e[0]!;
}
const table = (src: string) => s.execute(src).find((r): r is TableResult => r.kind === "table")!;
const values = (c: ChartResult) => (c.spec.data as { values: Row[] }).values;

/** Compile with vega-lite, failing on any warning it logs (a bad encoding warns, it does not throw). */
function compile(spec: Spec): Spec {
  const warnings: string[] = [];
  const logger = { level: () => logger, error: (...m: unknown[]) => (warnings.push(m.join(" ")), logger), warn: (...m: unknown[]) => (warnings.push(m.join(" ")), logger), info: () => logger, debug: () => logger };
  const out = vl.compile(spec as never, { logger: logger as never }).spec;
  expect(warnings).toEqual([]);
  return out as Spec;
}

/** The table's rows (total dropped) as reason → [exits, cycles]. */
function byReason(src: string): Map<string, [number, number]> {
  return new Map(table(src).rows.filter((r) => r[0] !== "total").map((r) => [String(r[0]), [Number(r[1]), Number(r[2])]]));
}

describe("chart ... by reason", () => {
  test("exits: one bar per reason with the table's counts, longest first, in the architecture's colour", () => {
    const c = chart("use intel; chart exits by reason");
    const spec = c.spec as Spec;
    compile(spec);
    const want = byReason("table exits by reason");
    expect(values(c).map((v) => [v.reason, v.exits])).toEqual([...want].map(([r, [n]]) => [r, n]));
    expect(spec.encoding.x.field).toBe("exits");
    expect(spec.encoding.x.title).toBe("exits");
    expect(spec.encoding.y.title).toBe("exit reason");
    const counts = spec.encoding.y.sort.map((r: string) => want.get(r)![0]);
    expect(counts).toEqual([...counts].sort((a: number, b: number) => b - a));
    expect(spec.encoding.y.sort[0]).toBe("IO_INSTRUCTION");
    expect(spec.layer[0].mark.color).toBe(ARCH_COLOURS.x86_64[0]);
    expect(spec.title).toBe("Exits of intel by reason");
    expect(c.summary).toBe("Exits of intel by reason: EPT_VIOLATION 6, CR_ACCESS 3, MSR_READ 1, MSR_WRITE 1, IO_INSTRUCTION 30");
  });

  test("cycles: the x axis is modelled host cycles, the data the table's cycles", () => {
    const c = chart("use intel; chart cycles by reason");
    const spec = c.spec as Spec;
    compile(spec);
    expect(spec.encoding.x.field).toBe("cycles");
    expect(spec.encoding.x.title).toBe("modelled host cycles");
    const want = byReason("table exits by reason");
    for (const v of values(c)) expect(v.cycles).toBe(want.get(v.reason)![1]);
    expect(spec.encoding.y.sort[0]).toBe("IO_INSTRUCTION");
    expect(c.title).toBe("Cycles of intel by reason");
    // A named VM's cycles, the other architecture's colour.
    const arm = chart("chart arm cycles by reason").spec as Spec;
    expect(arm.layer[0].mark.color).toBe(ARCH_COLOURS.arm64[0]);
    expect(arm.encoding.y.sort[0]).toBe("DABT_LOW");
  });

  test("where COND keeps the exits it holds for, and the subtitle says what was left out", () => {
    const c = chart("use intel; chart exits by reason where reason != IO_INSTRUCTION");
    compile(c.spec);
    expect(values(c).map((v) => v.reason)).toEqual(["EPT_VIOLATION", "CR_ACCESS", "MSR_READ", "MSR_WRITE"]);
    expect((c.spec as Spec).title).toEqual({ text: "Exits of intel by reason", subtitle: "where reason != IO_INSTRUCTION: 30 of 41 exits left out" });
    const cr = chart("chart intel by reason where reason == CR_ACCESS && qual.cr != 3");
    expect(values(cr)).toEqual([{ reason: "CR_ACCESS", exits: 2, cycles: expect.any(Number) }]);
  });

  test("without console leaves out the console's exits: COM1 port I/O on x86, PL011 MMIO on arm64", () => {
    const x = chart("chart intel exits by reason without console");
    // The one IO_INSTRUCTION left is the isa-debug-exit write (port 0xf4), not the console.
    expect(values(x).find((v) => v.reason === "IO_INSTRUCTION")!.exits).toBe(1);
    expect((x.spec as Spec).title.subtitle).toBe("without console I/O: 29 of 41 exits left out");
    const a = chart("chart arm by reason without console");
    compile(a.spec);
    expect(values(a).find((v) => v.reason === "DABT_LOW")!.exits).toBe(6);
    expect(byReason("table arm by reason").get("DABT_LOW")![0]).toBe(61);
  });
});

describe("a capped VM", () => {
  test("a filter says it saw only the kept exits", async () => {
    // A session of its own: `set exitcap` also applies to the VMs already booted.
    const own = await Session.create();
    const rs = own.execute("set exitcap 10; vm boot x86_64 as small; run until halt; chart small by reason without console");
    expect(rs.filter((r) => r.kind === "error")).toEqual([]);
    const c = rs.find((r): r is ChartResult => r.kind === "chart")!;
    compile(c.spec);
    expect((c.spec as Spec).title.subtitle).toBe("without console I/O: 9 of the last 10 kept exits left out (31 older exits were dropped by the cap)");
    expect(values(c)).toEqual([{ reason: "IO_INSTRUCTION", exits: 1, cycles: expect.any(Number) }]);
  });
});

describe("chart ... over time", () => {
  test("exits over time: one point per exit, numbered, against instructions retired", () => {
    const c = chart("chart intel over time");
    const spec = compile(c.spec);
    expect(spec).toBeTruthy();
    const v = values(c);
    expect(v.length).toBe(41);
    expect(v.map((p) => p.exits)).toEqual(v.map((_, i) => i + 1));
    expect((c.spec as Spec).encoding.y.title).toBe("exits so far");
    expect(c.summary).toBe("Exits of intel over time: 41 exits over 173 instructions");
  });

  test("cycles over time: the running total ends at the table's total cycles", () => {
    const c = chart("chart intel cycles over time");
    compile(c.spec);
    const total = table("table intel by reason").rows.at(-1)![2];
    expect(values(c).at(-1)!.cycles).toBe(total);
    expect((c.spec as Spec).encoding.y.field).toBe("cycles");
    expect((c.spec as Spec).encoding.y.title).toBe("modelled host cycles so far");
    const steps = values(c).map((p) => p.step!);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
  });

  test("a filter renumbers the kept exits", () => {
    const c = chart("chart arm exits over time without console");
    expect(values(c).map((p) => p.exits)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });
});

describe("chart compare A B", () => {
  test("grouped bars of exits and of cycles per reason, both VMs in their architecture's colour", () => {
    const c = chart("chart compare intel arm");
    const spec = c.spec as Spec;
    compile(spec);
    expect(spec.hconcat.map((p: Spec) => p.encoding.x.field)).toEqual(["exits", "cycles"]);
    expect(spec.hconcat.map((p: Spec) => p.encoding.x.title)).toEqual(["exits", "modelled host cycles"]);
    for (const p of spec.hconcat) {
      expect(p.encoding.yOffset.field).toBe("source");
      expect(p.encoding.color.scale).toEqual({ domain: ["intel", "arm"], range: [ARCH_COLOURS.x86_64[0], ARCH_COLOURS.arm64[0]] });
    }
    // Every reason of either VM has a bar for both; the counts are the tables'.
    const a = byReason("table intel by reason");
    const b = byReason("table arm by reason");
    const v = values(c);
    expect(v.length).toBe(2 * new Set([...a.keys(), ...b.keys()]).size);
    for (const row of v) expect([row.exits, row.cycles]).toEqual((row.source === "intel" ? a : b).get(row.reason) ?? [0, 0]);
    // Both panels list the reasons in one order: most exits first.
    const order = spec.hconcat[0].encoding.y.sort as string[];
    expect(spec.hconcat[1].encoding.y.sort).toEqual(order);
    expect(order.slice(0, 2)).toEqual(["DABT_LOW", "IO_INSTRUCTION"]);
    expect(c.summary).toMatch(/^intel vs arm: exits and modelled cycles by reason: exits intel\/arm: EPT_VIOLATION 6\/0, .*DABT_LOW 0\/61/);
  });

  test("two VMs of one architecture: the second in the light shade; filters apply to both", () => {
    charts("set kvm 2015; vm boot x86_64 as k15; run until halt; set kvm today; vm boot x86_64 as k26; run until halt; use intel");
    const c = chart("chart compare k15 k26 without console");
    const spec = c.spec as Spec;
    compile(spec);
    expect(spec.hconcat[0].encoding.color.scale.range).toEqual([...ARCH_COLOURS.x86_64]);
    const cr = values(c).filter((v) => v.reason === "CR_ACCESS").map((v) => [v.source, v.exits]);
    expect(cr).toEqual([["k15", 3], ["k26", 2]]);
    expect(values(c).filter((v) => v.reason === "IO_INSTRUCTION").map((v) => v.exits)).toEqual([1, 1]);
    expect(spec.title.subtitle).toBe("without console I/O: 29 of 41 (k15), 29 of 40 (k26) exits left out");
  });

  test("a loaded trace: its architecture from its format (x86's colour), its exits' decoded fields", () => {
    const c = chart("chart compare host arm where reason != IO_INSTRUCTION");
    compile(c.spec);
    expect((c.spec as Spec).hconcat[0].encoding.color.scale.range).toEqual([ARCH_COLOURS.x86_64[0], ARCH_COLOURS.arm64[0]]);
    expect(values(c).filter((v) => v.source === "host").reduce((n, v) => n + v.exits, 0)).toBe(11);
    // The qualification's port, decoded by the x86 machine's layout, finds the console's I/O.
    const quiet = chart("chart host by reason without console");
    const sum = (c: ChartResult) => values(c).reduce((n, v) => n + v.exits, 0);
    expect(sum(quiet)).toBe(sum(chart("chart intel by reason without console")));
    expect(sum(quiet)).toBeLessThan(sum(chart("chart host by reason")) - 20);
  });
});

describe("chart errors", () => {
  test("a misspelt measure, option or filter word points at it with a hint", () => {
    const m = error("chart intel cylces by reason");
    expect([m.name, m.column, m.hint]).toEqual(["ValueError", 13, "did you mean `cycles`?"]);
    const w = error("chart exits by reason without consol");
    expect([w.name, w.column, w.hint]).toEqual(["ValueError", 31, "did you mean `console`?"]);
    const o = error("chart exits by reason withot console");
    expect([o.name, o.column, o.hint]).toEqual(["SyntaxError", 23, "did you mean `without`?"]);
    const n = error("chart compare intel nope");
    expect(n.name).toBe("NameError");
    const r: Result[] = s.execute("chart exits by reason where");
    expect(r.find((x): x is ErrorResult => x.kind === "error")!.name).toBe("SyntaxError");
  });
});

describe("charts render through the image path", () => {
  test("compare and over-time specs render to SVG with their titles, labels and axis titles", async () => {
    const svg = await renderChartSvg(chart("chart compare intel arm without console").spec);
    for (const t of ["intel vs arm: exits and modelled cycles by reason", "without console I/O", "EPT_VIOLATION", "DABT_LOW", "modelled host cycles", "exit reason"]) expect(svg).toContain(t);
    expect(svg).toContain(ARCH_COLOURS.arm64[0]);
    const t = await renderChartSvg(chart("chart intel cycles over time").spec);
    expect(t).toContain("modelled host cycles so far");
    expect(t).toContain("guest instructions retired");
  });
});
