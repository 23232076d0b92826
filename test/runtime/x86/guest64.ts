// Shared by the x86 tests that run a small 64-bit guest and look at the exception it takes: the
// guest (the 64-bit loader's identity map, CPL 0), the intercepted exception's error code, and a
// WRMSR of an immediate or register value.

import { createX86Machine, type X86Machine } from "../../../runtime/x86/machine.js";

/** A 64-bit guest of `body` (label `start` first), today's KVM, at most `stepLimit` steps. */
export const guest64 = (body: string, opts: { vendor?: string; jit?: boolean; stepLimit?: number } = {}): X86Machine =>
  createX86Machine({
    guest: { source: `start:\n${body}\n`, mode: 64 },
    settings: { era: "today", stepLimit: opts.stepLimit ?? 10_000, ...(opts.jit !== undefined ? { jit: opts.jit } : {}) },
    ...(opts.vendor ? { cpuVendor: opts.vendor } : {}),
  });

/** Runs until the guest takes exception `vector` (intercepted) or stops; that exception's error code (-1: none), or null. */
export function exceptionCode(m: X86Machine, vector: number): number | null {
  m.setTrap({ kind: "exception", arg: vector }, true);
  m.run({ stopOnExit: (e) => e.reason === "EXCEPTION_NMI" && (Number(m.vmcs.read("VM_EXIT_INTR_INFO")) & 0xff) === vector });
  const info = Number(m.vmcs.read("VM_EXIT_INTR_INFO"));
  if (m.exits.at(-1)?.reason !== "EXCEPTION_NMI" || (info & 0xff) !== vector) return null;
  return (info >> 11) & 1 ? Number(m.vmcs.read("VM_EXIT_INTR_ERROR_CODE")) : -1;
}

/** Guest code writing MSR `msr` with `value` (an immediate `$…` or a register): ECX, EDX:EAX, WRMSR. */
export const wrmsr = (msr: number, value: string): string => `mov $${msr}, %ecx\nmov ${value}, %rax\nmov %rax, %rdx\nshr $32, %rdx\nwrmsr\n`;
