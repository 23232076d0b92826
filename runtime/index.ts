// The runtime's front door: build a machine of either architecture, and the static facts of each.

import type { Arch, ArchInfo, Machine, MachineOptions } from "./core/machine.js";
import { createX86Machine } from "./x86/machine.js";
import { x86Info } from "./x86/info.js";
import { createArm64Machine } from "./arm64/machine.js";
import { arm64Info } from "./arm64/info.js";

export * from "./core/machine.js";
export * from "./core/trace.js";
export { GuestMemory } from "./core/memory.js";
export { MmioBus } from "./core/bus.js";
export * from "./core/errors.js";
export { createX86Machine, createArm64Machine };

/** Facts per architecture. */
export const archInfo: Partial<Record<Arch, ArchInfo>> = { arm64: arm64Info, x86_64: x86Info };

/** A new VM of `arch` with a guest loaded (the built-in "boot" guest by default), stopped at its entry. */
export function createMachine(arch: Arch, options: MachineOptions = {}): Machine {
  return arch === "arm64" ? createArm64Machine(options) : createX86Machine(options);
}
