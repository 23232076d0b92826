// The two engines the differential tests compare: the interpreter ({ jit: false }, blocks of one
// instruction) and the block compiler ({ jit: true }), chosen by the machines' `jit` setting.

import { createMachine, type Arch, type MachineSettings } from "../../../runtime/index.js";

/**
 * Whether machines of `arch` take the `jit` setting and keep it: the comparison would be
 * trivially equal if a machine ignored it, so the tests assert this.
 */
export function acceptsJit(arch: Arch): boolean {
  const m = createMachine(arch, { settings: { jit: false } as Partial<MachineSettings> });
  return m.settings.jit === false;
}

/** Settings for a run on the interpreter (jit false) or the compiled path (jit true). */
export function engineSettings(_arch: Arch, jit: boolean): Partial<MachineSettings> {
  return { stepLimit: 100_000, jit };
}

/** Run `f`; an error (a program that never reaches its end, an assembler error) gets `context`. */
export function withContext<T>(context: () => string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(`${msg}\n${context()}`);
  }
}
