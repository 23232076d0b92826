// The arm64 half of `npm start`: boot the built-in guest under the KVM model and summarise its exits.

import type { Granule } from "./kvm/stage2.js";
import { createArm64Machine, type Arm64Machine } from "./machine.js";
import { summarizeExits } from "../core/summary.js";

export interface Arm64BootDemo {
  machine: Arm64Machine;
  traceLines: string[];
  summary: { reason: string; count: number; cycles: number }[];
}

export function runArm64Boot(options: { era?: "2015" | "today"; granule?: Granule; maxSteps?: number } = {}): Arm64BootDemo {
  const machine = createArm64Machine({ guest: { builtin: "boot" }, settings: { era: options.era ?? "2015", granule: options.granule ?? "64k" } });
  machine.run({ maxSteps: options.maxSteps ?? 1_000_000 });
  return { machine, traceLines: machine.trace.lines(machine.settings.era), summary: summarizeExits(machine.exits) };
}
