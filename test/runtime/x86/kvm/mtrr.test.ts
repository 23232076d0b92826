// KVM's MTRR MSRs (Linux arch/x86/kvm/mtrr.c; runtime/x86/kvm/mtrr.ts) from a 64-bit guest: the
// read-only IA32_MTRRCAP, state kept per vCPU, and the reserved-bit and memory-type checks that #GP.

import { describe, expect, test } from "vitest";
import { createX86Machine, type X86Machine } from "../../../../runtime/x86/machine.js";
import { KVM_MTRRCAP, MtrrState, getMtrrMsr, isMtrrMsr, mtrrMsrName, setMtrrMsr } from "../../../../runtime/x86/kvm/mtrr.js";

const guest64 = (body: string): X86Machine =>
  createX86Machine({ guest: { source: `start:\n${body}\n`, mode: 64 }, settings: { era: "2015", stepLimit: 10_000 } });

/** Whether KVM refused a WRMSR with #GP: the guest has no IDT, so the injected #GP ends in a triple fault. */
function gpTaken(m: X86Machine): boolean {
  m.run();
  return /triple fault/.test(m.halted?.message ?? "");
}
const wrmsr = (msr: number, value: bigint) => `mov $${msr}, %ecx\nmov $${value & 0xffff_ffffn}, %eax\nmov $${value >> 32n}, %edx\nwrmsr\n`;
const rdmsr = (msr: number) => `mov $${msr}, %ecx\nrdmsr\n`;

describe("MTRR MSRs as KVM keeps them", () => {
  test("IA32_MTRRCAP reads 0x508 (WC, FIX, 8 variable ranges); a guest write to it is #GP", () => {
    const m = guest64(rdmsr(0xfe) + "hlt");
    m.run();
    expect(m.readRegister("rax")).toBe(0x508n);
    expect(KVM_MTRRCAP).toBe(0x508n);
    expect(gpTaken(guest64(wrmsr(0xfe, 0x508n) + "hlt"))).toBe(true);
  });

  test("IA32_MTRR_DEF_TYPE, a fixed range and a variable pair are stored and read back", () => {
    const m = guest64(
      wrmsr(0x2ff, 0xc06n) + wrmsr(0x250, 0x0606_0606_0606_0606n) + wrmsr(0x200, 0x7f_0000_0006n) + wrmsr(0x201, 0x7f_ffff_f800n) +
        rdmsr(0x2ff) + "mov %rax, %r8\n" + rdmsr(0x250) + "mov %rax, %r9\n" + rdmsr(0x201) + "mov %rax, %r10\nmov %rdx, %r11\nhlt",
    );
    m.run();
    expect([m.readRegister("r8"), m.readRegister("r9"), m.readRegister("r10"), m.readRegister("r11")]).toEqual([0xc06n, 0x0606_0606n, 0xffff_f800n, 0x7fn]);
    expect(m.halted?.message ?? "").not.toMatch(/triple fault/);
  });

  test.each([
    ["DEF_TYPE with a reserved bit (9)", 0x2ff, 0x200n],
    ["DEF_TYPE with memory type 2 (reserved)", 0x2ff, 0x802n],
    ["a fixed range with a type-7 byte", 0x268, 0x0700_0000_0000n],
    ["PHYSBASE0 with bit 8 set", 0x200, 0x106n],
    ["PHYSMASK0 with a bit above MAXPHYADDR (39)", 0x201, 1n << 39n],
    ["an MSR past the eighth pair (0x210)", 0x210, 0n],
  ])("%s is #GP", (_, msr, value) => {
    expect(gpTaken(guest64(wrmsr(msr, value) + "hlt"))).toBe(true);
  });

  test("the model's functions: names, ownership, state per vCPU", () => {
    expect([0xfe, 0x2ff, 0x250, 0x258, 0x26f, 0x200, 0x20f].every(isMtrrMsr)).toBe(true);
    expect([0x210, 0x251, 0x277, 0x2f8].some(isMtrrMsr)).toBe(false);
    expect([mtrrMsrName(0x20d), mtrrMsrName(0x269), mtrrMsrName(0x2ff)]).toEqual(["IA32_MTRR_PHYSMASK6", "IA32_MTRR_FIX4K_C8000", "IA32_MTRR_DEF_TYPE"]);
    const a = new MtrrState(), b = new MtrrState();
    expect(setMtrrMsr(a, 0x20e, 0x12_3450_0000n | 6n)).toBe(0);
    expect([getMtrrMsr(a, 0x20e), getMtrrMsr(b, 0x20e)]).toEqual([0x12_3450_0006n, 0n]);
  });
});
