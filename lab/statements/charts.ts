// The `chart` statement: exits or their cycles by reason, over time, and two VMs or traces
// compared; `where COND` and `without console` leave exits out. Gathers the exits, filters them
// and hands rows to the spec builders (lab/charts.ts).

import type { ChartFilter, Statement, Word } from "../../grammar/ast.js";
import type { Arch, Exit } from "../../runtime/core/machine.js";
import { COM1_PORT, COM1_SIZE } from "../../runtime/devices/serial.js";
import { PL011_BASE, PL011_SIZE } from "../../runtime/devices/pl011.js";
import { suggestion } from "../../grammar/words.js";
import { byReasonSpec, compareSpec, overTimeSpec, type Measure, type Series, type TimePoint } from "../charts.js";
import { LabError, valueError } from "../errors.js";
import { evaluate, type Scope } from "../expr.js";
import type { ChartResult, Result } from "../results.js";
import type { Context } from "../session.js";
import { truthy } from "../values.js";
import { scopeOf } from "./common.js";
import { exitRowsBy, exitTotal, type ExitLike, type Exits } from "./tables.js";

type ChartStatement = Extract<Statement, { type: "chart" }>;

/** Exits of a VM (its store) or of a loaded trace, with what the chart needs to know about them. */
export interface ChartSource {
  name: string;
  exits: Exits;
  /** The VM's architecture; a trace's when its format tells (x86 and arm kvm_exit lines differ). */
  arch: Arch | null;
  /** True for a VM: its exits carry their fields (a trace's have a reason, a pc and a step). */
  fields: boolean;
  /** What an exit's cost is when it is no modelled cycles (a real trace's time, µs). */
  costAxis?: string;
}

/**
 * The guest's console as its exits show it, per architecture. x86: COM1 (runtime/devices/serial.ts)
 * is port I/O, so an IO_INSTRUCTION exit whose qualification's port (Intel SDM Vol 3C Table 28-5,
 * bits 31:16) is one of COM1's 8 ports. arm64: the PL011 (runtime/devices/pl011.ts) is MMIO that
 * KVM never maps into stage 2, so a DABT_LOW exit whose IPA (from HPFAR_EL2 and FAR_EL2) falls in
 * its 4 KiB region.
 */
export const CONSOLE_EXITS: Record<Arch, { reason: string; field: string; base: number; size: number; device: string }> = {
  x86_64: { reason: "IO_INSTRUCTION", field: "qual.port", base: COM1_PORT, size: COM1_SIZE, device: "the 16550A UART at COM1 (ports 0x3f8-0x3ff)" },
  arm64: { reason: "DABT_LOW", field: "ipa", base: PL011_BASE, size: PL011_SIZE, device: "the PL011 UART at 0x09000000" },
};

/** True when the exit is the guest writing (or reading) its console. */
export function isConsoleExit(e: Exit): boolean {
  const c = CONSOLE_EXITS[e.arch];
  if (e.reason !== c.reason) return false;
  const v = e.info[c.field];
  const at = typeof v === "bigint" ? Number(v) : typeof v === "number" ? v : NaN;
  return at >= c.base && at < c.base + c.size;
}

/** What the options after `without` can name. */
const WITHOUT = ["console"];

type Filter = { describe: string; keep: (e: Exit) => boolean };

function filtersOf(s: ChartStatement, src: ChartSource, ctx: Context): Filter[] {
  const out: Filter[] = [];
  for (const f of s.filters) {
    if (f.type === "where") {
      const scope = sourceScope(src, ctx);
      out.push({ describe: `where ${ctx.source.slice(f.cond.pos.offset, f.cond.pos.end)}`, keep: (e) => truthy(evaluate(f.cond, { ...scope, exit: e })) });
      continue;
    }
    checkWithout(f);
    if (!src.fields) throw valueError(`\`without console\` needs the exits' fields; \`${src.name}\` is a loaded trace (reasons only)`, f.what.pos, `filter by reason instead: \`where reason != ...\``);
    out.push({ describe: `without console I/O`, keep: (e) => !isConsoleExit(e) });
  }
  return out;
}

function checkWithout(f: Extract<ChartFilter, { type: "without" }>): void {
  if (f.option.text.toLowerCase() !== "without") {
    throw new LabError("SyntaxError", `unexpected \`${f.option.text}\` after the chart: expected \`where COND\` or \`without console\``, f.option.pos, suggestion(f.option.text, ["without", "where"]) ?? "e.g. `chart exits by reason without console`");
  }
  if (!WITHOUT.includes(f.what.text.toLowerCase())) {
    throw valueError(`\`without ${f.what.text}\`: charts can leave out ${WITHOUT.map((w) => `\`${w}\``).join(", ")}`, f.what.pos, suggestion(f.what.text, WITHOUT) ?? "or filter with `where COND`");
  }
}

/**
 * Names in a filter see the filtered exit's fields, then the session's variables, then exit
 * reasons of every architecture (the source's first): `where reason != IO_INSTRUCTION` applies to
 * both sides of `chart compare intel arm`, and is simply true for arm64's exits.
 */
function sourceScope(src: ChartSource, ctx: Context): Scope {
  const base = scopeOf(ctx);
  const vm = ctx.session.vms.get(src.name);
  const infos = Object.entries(ctx.session.factory.archInfo).sort(([a], [b]) => Number(b === src.arch) - Number(a === src.arch));
  const reasons = [...new Set(infos.flatMap(([, i]) => i?.exitReasons.map((r) => r.name) ?? []))];
  return { ...base, machine: vm?.machine ?? base.machine, reasons };
}

/** A trace's exit as an Exit for filters: reason, pc, step; no fields, no cost. */
function asExit(e: ExitLike, index: number, arch: Arch | null): Exit {
  return { index, arch: arch ?? "x86_64", step: e.step, reason: e.reason, code: 0, pc: e.pc, info: {}, cycles: e.cycles };
}

/** The exits that pass every filter (all of them, as the store itself, when there is none). */
function filtered(src: ChartSource, filters: Filter[]): { exits: Exits; left: number } {
  if (filters.length === 0) return { exits: src.exits, left: 0 };
  const all: Exit[] = "byReason" in src.exits ? src.exits.toArray() : src.exits.map((e, i) => asExit(e, i, src.arch));
  const kept = all.filter((e) => filters.every((f) => f.keep(e)));
  return { exits: kept, left: all.length - kept.length };
}

/** What the filters left out, of how many: every exit, or a capped store's kept ones. */
function subtitleOf(src: ChartSource, filters: Filter[], left: number): string | undefined {
  if (!filters.length) return undefined;
  const dropped = "byReason" in src.exits ? src.exits.dropped : 0;
  const of = dropped ? `the last ${src.exits.length} kept` : `${exitTotal(src.exits)}`;
  return `${filters.map((f) => f.describe).join(", ")}: ${left} of ${of} exits left out` + (dropped ? ` (${dropped} older exits were dropped by the cap)` : "");
}

function measureOf(w: Word | null): Measure {
  if (!w) return "exits";
  const m = w.text.toLowerCase();
  if (m === "exits" || m === "cycles") return m;
  throw valueError(`\`${w.text}\`: a chart shows \`exits\` or \`cycles\``, w.pos, suggestion(w.text, ["exits", "cycles"]) ?? "e.g. `chart cycles by reason`, `chart intel cycles over time`");
}

const CAP = (s: string) => s[0]!.toUpperCase() + s.slice(1);

function byReason(src: ChartSource, measure: Measure, filters: Filter[], line: number): ChartResult {
  const { exits, left } = filtered(src, filters);
  const rows = exitRowsBy(exits).map((r) => ({ reason: r.reason, exits: r.count, cycles: r.cycles }));
  const title = `${CAP(measure)} of ${src.name} by reason`;
  const subtitle = subtitleOf(src, filters, left);
  const value = (r: { exits: number; cycles: number }) => (measure === "exits" ? r.exits : r.cycles);
  return {
    kind: "chart",
    title,
    spec: byReasonSpec({ name: src.name, arch: src.arch, rows, costAxis: src.costAxis }, measure, title, subtitle),
    summary: `${title}${subtitle ? ` (${subtitle})` : ""}: ` + (rows.length ? rows.map((r) => `${r.reason} ${value(r)}`).join(", ") : "no exits"),
    line,
  };
}

function overTime(src: ChartSource, measure: Measure, filters: Filter[], line: number): ChartResult {
  const { exits, left } = filtered(src, filters);
  // A store's kept exits carry their number (index): the points stay right when older ones were dropped.
  const list: readonly (ExitLike & { index?: number })[] = "byReason" in exits ? exits.toArray() : exits;
  let cycles = 0;
  const points: TimePoint[] = list.map((e, i) => {
    cycles += e.cycles;
    return { step: e.step, reason: e.reason, exits: filters.length ? i + 1 : (e.index ?? i) + 1, cycles };
  });
  const title = `${CAP(measure)} of ${src.name} over time`;
  const subtitle = subtitleOf(src, filters, left);
  const last = list[list.length - 1];
  const dropped = "byReason" in src.exits && src.exits.dropped && !filters.length ? ` (the last ${src.exits.length} shown, ${src.exits.dropped} older dropped)` : "";
  const total = filters.length ? list.length : exitTotal(src.exits);
  const what = measure === "exits" ? `${total} exits` : `${cycles} modelled cycles in ${total} exits`;
  return {
    kind: "chart",
    title,
    spec: overTimeSpec(src.name, src.arch, points, measure, title, subtitle),
    summary: `${title}${subtitle ? ` (${subtitle})` : ""}: ${what}` + (last ? ` over ${last.step} instructions` : "") + dropped,
    line,
  };
}

function compared(a: ChartSource, b: ChartSource, filtersA: Filter[], filtersB: Filter[], line: number): ChartResult {
  const series = (src: ChartSource, filters: Filter[]) => {
    const { exits, left } = filtered(src, filters);
    const rows = exitRowsBy(exits).map((r) => ({ reason: r.reason, exits: r.count, cycles: r.cycles }));
    return { s: { name: src.name, arch: src.arch, rows, costAxis: src.costAxis } as Series, left };
  };
  const sa = series(a, filtersA);
  const sb = series(b, filtersB);
  const title = `${a.name} vs ${b.name}: exits and modelled cycles by reason`;
  // One filter clause serves both sides; the subtitle stays short (vega sizes the chart by an
  // estimate of its text's width).
  let subtitle: string | undefined;
  if (filtersA.length) {
    const capped = (x: ChartSource) => "byReason" in x.exits && x.exits.dropped > 0;
    const of = (x: ChartSource) => (capped(x) ? `the last ${x.exits.length} kept` : `${exitTotal(x.exits)}`);
    subtitle = `${filtersA.map((f) => f.describe).join(", ")}: ${sa.left} of ${of(a)} (${a.name}), ${sb.left} of ${of(b)} (${b.name}) exits left out`;
  }
  const rb = new Map(sb.s.rows.map((r) => [r.reason, r]));
  const ra = new Map(sa.s.rows.map((r) => [r.reason, r]));
  const reasons = [...new Set([...ra.keys(), ...rb.keys()])];
  const pair = (r: string) => `${r} ${ra.get(r)?.exits ?? 0}/${rb.get(r)?.exits ?? 0}`;
  return {
    kind: "chart",
    title,
    spec: compareSpec(sa.s, sb.s, title, subtitle),
    summary: `${title}${subtitle ? ` (${subtitle})` : ""}: exits ${a.name}/${b.name}: ` + (reasons.length ? reasons.map(pair).join(", ") : "no exits"),
    line,
  };
}

/**
 * The chart statement. `sourceOf` finds a VM or trace by name (null: the current VM) and
 * `group` checks the `by` field; both come from the data statements, which own sources.
 */
export function chartStatement(s: ChartStatement, ctx: Context, sourceOf: (w: Word | null) => ChartSource, group: (by: Word | null) => void): Result[] {
  const line = s.pos.line;
  if (s.compare) {
    const a = sourceOf(s.compare[0]);
    const b = sourceOf(s.compare[1]);
    return [compared(a, b, filtersOf(s, a, ctx), filtersOf(s, b, ctx), line)];
  }
  const src = sourceOf(s.source);
  const measure = measureOf(s.measure);
  const filters = filtersOf(s, src, ctx);
  if (s.overTime) return [overTime(src, measure, filters, line)];
  group(s.by);
  return [byReason(src, measure, filters, line)];
}
