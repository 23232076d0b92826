// Test machine factory: x86 straight from runtime/x86 (runtime/index.ts also loads arm64).
import type { MachineFactory } from "../../lab/session.js";
import { createX86Machine } from "../../runtime/x86/machine.js";
import { x86Info } from "../../runtime/x86/info.js";

export const x86Factory: MachineFactory = {
  createMachine: (arch, options) => {
    if (arch !== "x86_64") throw new Error(`only x86_64 in this test factory`);
    return createX86Machine(options);
  },
  archInfo: { x86_64: x86Info },
};
