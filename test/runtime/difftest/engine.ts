// The two engines the differential tests compare: the interpreter ({ jit: false }) and the block
// compiler ({ jit: true }), chosen by the `jit` MachineSettings flag of the engine rewrite.
// MachineSettings has no `jit` member yet, hence the cast. Machines keep settings they do not know
// (both factories spread options.settings and check only their own), so until the rewrite lands
// both runs use the interpreter and the comparison is trivially equal. Should a machine start
// rejecting the unknown name, engineSettings detects it once and runs without the flag.

import { createMachine, type Arch, type MachineSettings } from "../../../runtime/index.js";

const accepted = new Map<Arch, boolean>();

/** Whether machines of `arch` take the `jit` setting (else both runs are the interpreter). */
export function acceptsJit(arch: Arch): boolean {
  let ok = accepted.get(arch);
  if (ok === undefined) {
    try {
      createMachine(arch, { settings: { jit: true } as Partial<MachineSettings> });
      ok = true;
    } catch {
      ok = false; // an engine without the flag that rejects unknown settings: interpreter only
    }
    accepted.set(arch, ok);
  }
  return ok;
}

/** Settings for a run on the interpreter (jit false) or the compiled path (jit true). */
export function engineSettings(arch: Arch, jit: boolean): Partial<MachineSettings> {
  const base: Partial<MachineSettings> = { stepLimit: 100_000 };
  return acceptsJit(arch) ? ({ ...base, jit } as Partial<MachineSettings>) : base;
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
