// The x86 half of `npm start`: boot the built-in guest under the KVM model and summarise its exits.

import { createX86Machine, type X86Machine } from "./machine.js";

export interface X86BootDemo {
  machine: X86Machine;
  traceLines: string[];
  summary: { reason: string; count: number; cycles: number }[];
}

export function runX86Boot(options: { era?: "2015" | "today"; maxSteps?: number } = {}): X86BootDemo {
  const machine = createX86Machine({ guest: { builtin: "boot" }, settings: { era: options.era ?? "2015" } });
  machine.run({ maxSteps: options.maxSteps ?? 1_000_000 });
  const traceLines = machine.trace.lines(machine.settings.era);
  const by = new Map<string, { count: number; cycles: number }>();
  for (const e of machine.exits) {
    const s = by.get(e.reason) ?? { count: 0, cycles: 0 };
    s.count++;
    s.cycles += e.cycles;
    by.set(e.reason, s);
  }
  const summary = [...by.entries()].map(([reason, s]) => ({ reason, ...s }));
  return { machine, traceLines, summary };
}
