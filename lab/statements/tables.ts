// Exit summaries: counts and cycles by reason.
// (Charts of them: lab/statements/charts.ts.)

import type { Exit } from "../../runtime/core/machine.js";
import type { ExitList } from "../../runtime/core/exits.js";

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
