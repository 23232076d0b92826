// Trap-like VM exits raised by a store, taken without a JavaScript exception. A store to the
// APIC-access page that APICv does not virtualize is an APIC_WRITE exit (Intel SDM Vol. 3 29.4.3.3:
// trap-like, after the write); here it is raised as the write happens and KVM's handler completes
// the instruction (kvm/irqchip.ts apicPageAccess). Thrown as a VmExitSignal, each such exit paid
// V8's exception machinery (a message object, the unwinding of every frame up to the machine's
// catch): microseconds, most of the cost of an xAPIC ICR write in kvm-unit-tests' apic test (two
// exits per IPI). While a compiled block runs the machine sets `deferTraps`: the exit is stored
// in `trap` instead, the store (cpu-memory.ts wr) returns true and the generated code returns -1 at once
// (isa/semantics/fast-gen.ts memWrite), the instruction as unfinished as the exception leaves it;
// the machine then takes the exit as its catch would (machine-run.ts runBlock). Everywhere else (the
// interpreter, KVM's emulator, event delivery) the exit is thrown as before.

import { VmExitSignal, type ExitInfo } from "./state.js";

/** The vCPU fields the deferral uses (X86Cpu). */
export interface TrapCpu {
  /** Set by the machine while a compiled block runs: its stores' trap-like exits may be deferred. */
  deferTraps: boolean;
  /** The deferred exit, until the machine takes it. */
  trap: ExitInfo | null;
  /** Data breakpoints are watched: the store's own checks after the access must not run (no deferral). */
  dataWatch: boolean;
}

/**
 * Raise the trap-like exit `info` of the store in progress: deferred (stored in cpu.trap, returns)
 * when the machine asked for it and nothing else is pending, else thrown as a VmExitSignal.
 * The caller returns normally after a deferral, changing nothing more.
 */
export function raiseTrapExit(cpu: TrapCpu, info: ExitInfo): void {
  if (cpu.deferTraps && cpu.trap === null && !cpu.dataWatch) {
    cpu.trap = info;
    return;
  }
  throw new VmExitSignal(info);
}

/** The deferred exit, cleared (the machine takes it once). Throws if none is pending: a caller's error. */
export function takeTrapExit(cpu: TrapCpu): ExitInfo {
  const info = cpu.trap;
  if (info === null) throw new Error("takeTrapExit: no deferred exit (a block returned -1 without one)");
  cpu.trap = null;
  return info;
}
