// Exit summaries: counts and cycles by reason, charts of them (vega-lite v5, data inline), and
// exits recovered from loaded tracepoint text.

import type { Exit } from "../../runtime/core/machine.js";
import type { ExitList } from "../../runtime/core/exits.js";
import { VEGA_LITE_SCHEMA, type ChartResult } from "../results.js";

export type ExitLike = Pick<Exit, "reason" | "cycles" | "step" | "pc">;
/** A VM's exit store (counts exact, the newest kept) or exits read from a trace. */
export type Exits = ExitList | readonly ExitLike[];

const isStore = (exits: Exits): exits is ExitList => "byReason" in exits;

/** How many exits there were in all (a store counts those its cap dropped). */
export function exitTotal(exits: Exits): number {
  return isStore(exits) ? exits.total : exits.length;
}

/** Per-reason counts and cycles, in order of first appearance (deterministic); exact for a store. */
export function exitRowsBy(exits: Exits): { reason: string; count: number; cycles: number }[] {
  if (isStore(exits)) return exits.byReason();
  const by = new Map<string, { reason: string; count: number; cycles: number }>();
  for (const e of exits) {
    const r = by.get(e.reason) ?? { reason: e.reason, count: 0, cycles: 0 };
    r.count++;
    r.cycles += e.cycles;
    by.set(e.reason, r);
  }
  return [...by.values()];
}

/**
 * `kvm_exit` lines of a saved trace as exits. Formats: x86 (Linux arch/x86/kvm/trace.h)
 * "kvm_exit: reason CR_ACCESS rip 0x… info …"; arm (arch/arm/kvm/trace.h, later kernels)
 * "kvm_exit: TRAP: HSR_EC: 0x0024 (DABT_LOW), PC: 0x…"; Linux 4.1 arm "kvm_exit: PC: 0x…" names
 * no reason ("kvm_exit").
 */
export function parseTraceExits(lines: readonly string[]): ExitLike[] {
  const out: ExitLike[] = [];
  lines.forEach((l, i) => {
    const at = l.indexOf("kvm_exit:");
    if (at < 0) return;
    const body = l.slice(at + 9);
    const reason = /reason (\w+)/.exec(body)?.[1] ?? /\((\w+)\)/.exec(body)?.[1] ?? "kvm_exit";
    const pc = /(?:rip|PC:) (0x[0-9a-fA-F]+)/.exec(body)?.[1];
    out.push({ reason, cycles: 0, step: i, pc: pc ? BigInt(pc) : 0n });
  });
  return out;
}

export function chartByReason(name: string, exits: Exits, line: number): ChartResult {
  const rows = exitRowsBy(exits);
  const title = `Exits of ${name} by reason`;
  return {
    kind: "chart",
    title,
    spec: {
      $schema: VEGA_LITE_SCHEMA,
      title,
      data: { values: rows.map((r) => ({ reason: r.reason, exits: r.count, cycles: r.cycles })) },
      mark: "bar",
      encoding: {
        y: { field: "reason", type: "nominal", sort: "-x", title: null },
        x: { field: "exits", type: "quantitative", title: "exits" },
        tooltip: [{ field: "reason" }, { field: "exits" }, { field: "cycles" }],
      },
    },
    summary: `${title}: ` + (rows.length ? rows.map((r) => `${r.reason} ${r.count}`).join(", ") : "no exits"),
    line,
  };
}

export function chartOverTime(name: string, source: Exits, line: number): ChartResult {
  const title = `Exits of ${name} over time`;
  // A store's kept exits carry their number (index): the points stay right when older ones were dropped.
  const exits: readonly (ExitLike & { index?: number })[] = isStore(source) ? source.toArray() : source;
  const values = exits.map((e, i) => ({ step: e.step, exit: (e.index ?? i) + 1, reason: e.reason }));
  const last = exits[exits.length - 1];
  const dropped = isStore(source) && source.dropped ? ` (the last ${source.length} shown, ${source.dropped} older dropped)` : "";
  return {
    kind: "chart",
    title,
    spec: {
      $schema: VEGA_LITE_SCHEMA,
      title,
      data: { values },
      mark: { type: "point", filled: true },
      encoding: {
        x: { field: "step", type: "quantitative", title: "guest instructions retired" },
        y: { field: "exit", type: "quantitative", title: "exits so far" },
        color: { field: "reason", type: "nominal" },
      },
    },
    summary: `${title}: ${exitTotal(source)} exits` + (last ? ` over ${last.step} instructions` : "") + dropped,
    line,
  };
}
