// Exits grouped by reason, in first-seen order: count and modelled cycles (npm start, demos).
// A machine's exit store counts every exit, also those its cap dropped.

import type { Exit } from "./machine.js";
import type { ExitList } from "./exits.js";

export function summarizeExits(exits: ExitList | readonly Exit[]): { reason: string; count: number; cycles: number }[] {
  if ("byReason" in exits) return exits.byReason();
  const by = new Map<string, { count: number; cycles: number }>();
  for (const e of exits) {
    const s = by.get(e.reason) ?? { count: 0, cycles: 0 };
    s.count++;
    s.cycles += e.cycles;
    by.set(e.reason, s);
  }
  return [...by.entries()].map(([reason, s]) => ({ reason, ...s }));
}
