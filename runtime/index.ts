// The runtime's front door: build a machine of either architecture, and the static facts of each.

import type { Arch, ArchInfo, Machine, MachineOptions } from "./core/machine.js";
import { ExitlabError } from "./core/errors.js";
import { createX86Machine } from "./x86/machine.js";
import { x86Info } from "./x86/info.js";

export * from "./core/machine.js";
export * from "./core/trace.js";
export { GuestMemory } from "./core/memory.js";
export { MmioBus } from "./core/bus.js";
export * from "./core/errors.js";

/** Facts per architecture; arm64 is absent until its machine lands (issue 3 is open). */
export const archInfo: Partial<Record<Arch, ArchInfo>> = { x86_64: x86Info };

/** A new VM of `arch` with a guest loaded (the built-in "boot" guest by default), stopped at its entry. */
export function createMachine(arch: Arch, options: MachineOptions = {}): Machine {
  if (arch === "arm64") {
    throw new ExitlabError("the arm64 machine is not available in this build", "only x86_64 can be booted for now");
  }
  return createX86Machine(options);
}
