// The x86 half of `npm start`: boot the built-in guest under the KVM model and summarise its exits.

import { createX86Machine, type X86Machine } from "./machine.js";
import { summarizeExits } from "../core/summary.js";

export interface X86BootDemo {
  machine: X86Machine;
  traceLines: string[];
  summary: { reason: string; count: number; cycles: number }[];
}

export function runX86Boot(options: { era?: "2015" | "today"; maxSteps?: number } = {}): X86BootDemo {
  const machine = createX86Machine({ guest: { builtin: "boot" }, settings: { era: options.era ?? "2015" } });
  machine.run({ maxSteps: options.maxSteps ?? 1_000_000 });
  return { machine, traceLines: machine.trace.lines(machine.settings.era), summary: summarizeExits(machine.exits) };
}
