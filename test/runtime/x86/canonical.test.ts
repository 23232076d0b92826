// Canonical-address checks of the modelled x86 CPU (48-bit linear addresses, no LA57) and of KVM:
// WRMSR of an address MSR (SDM Vol. 2B WRMSR; KVM __kvm_set_msr), LGDT/LIDT's 64-bit base (KVM
// emulate.c em_lgdt_lidt) and LTR/LLDT's 16-byte descriptor base (__load_segment_descriptor).
// kvm-unit-tests' msr and la57 entries test exactly these (x86/msr.c test_wrmsr_fault, x86/la57.c).

import { describe, expect, test } from "vitest";
import { createX86Machine, type X86Machine } from "../../../runtime/x86/machine.js";
import { canonicalized, cpuRefusesMsr, isCanonical, kvmMsrValue, LINEAR_ADDRESS_BITS } from "../../../runtime/x86/canonical.js";
import { kvmCpuid } from "../../../runtime/x86/kvm/cpuid.js";

const NONCANONICAL = 0xaaaa_aaaa_aaaa_aaaan; // kvm-unit-tests' NONCANONICAL
const CANONICAL_57 = 0xffaa_aaaa_aaaa_aaaan; // canonical only with 57-bit linear addresses

const guest64 = (body: string): X86Machine =>
  createX86Machine({ guest: { source: `start:\n${body}\n`, mode: 64 }, settings: { era: "today", stepLimit: 10_000 } });

/** Runs until the guest takes #GP (the exception bitmap's intercept) or halts; the #GP's error code, or null. */
function gpErrorCode(m: X86Machine): bigint | null {
  m.setTrap({ kind: "exception", arg: 13 }, true);
  m.run({ stopOnExit: (e) => e.reason === "EXCEPTION_NMI" });
  const last = m.exits.at(-1);
  if (last?.reason !== "EXCEPTION_NMI" || (Number(m.vmcs.read("VM_EXIT_INTR_INFO")) & 0xff) !== 13) return null;
  return m.vmcs.read("VM_EXIT_INTR_ERROR_CODE");
}

const wrmsr = (msr: number, value: bigint) =>
  `mov $${msr}, %ecx\nmov $${value & 0xffff_ffffn}, %eax\nmov $${value >> 32n}, %edx\nwrmsr\nrdmsr\nhlt`;

describe("canonical addresses (48-bit, no LA57)", () => {
  test("the width is CPUID 0x80000008 EAX[15:8]; bits 63..47 must be equal", () => {
    expect((kvmCpuid(0x8000_0008).entry.eax >> 8) & 0xff).toBe(LINEAR_ADDRESS_BITS);
    expect([0x0000_7fff_ffff_f000n, 0xffff_8000_0000_0000n, 0n].map(isCanonical)).toEqual([true, true, true]);
    expect([0x0000_8000_0000_0000n, 0xfffe_ffff_ffff_ffffn, NONCANONICAL, CANONICAL_57].map(isCanonical)).toEqual([false, false, false, false]);
    expect(canonicalized(0x1234_8000_0000_0000n)).toBe(0xffff_8000_0000_0000n);
  });

  test("which MSRs check: the CPU's WRMSR list, KVM's refusals and its SYSENTER canonicalization", () => {
    expect(cpuRefusesMsr(0xc000_0100, NONCANONICAL)).toBe(true);
    expect(cpuRefusesMsr(0xc000_0100, 0xffff_aaaa_aaaa_aaaan)).toBe(false);
    expect(cpuRefusesMsr(0x277, NONCANONICAL)).toBe(false); // IA32_PAT holds no address
    expect(kvmMsrValue(0xc000_0082, NONCANONICAL)).toBeNull(); // LSTAR
    expect(kvmMsrValue(0xc000_0083, NONCANONICAL)).toBeNull(); // CSTAR
    expect(kvmMsrValue(0x176, NONCANONICAL)).toBe(canonicalized(NONCANONICAL)); // SYSENTER_EIP
  });

  test("WRMSR FS_BASE (no exit: the MSR bitmap passes it) of a non-canonical value is #GP(0) and leaves the base", () => {
    const bad = guest64(wrmsr(0xc000_0100, NONCANONICAL));
    expect(gpErrorCode(bad)).toBe(0n);
    expect(bad.cpu.state.seg.fs.base).toBe(0n);
    const ok = guest64(wrmsr(0xc000_0100, 0xffff_aaaa_aaaa_aaaan));
    expect(gpErrorCode(ok)).toBeNull();
    expect(ok.cpu.state.seg.fs.base).toBe(0xffff_aaaa_aaaa_aaaan);
  });

  test("WRMSR LSTAR (an MSR_WRITE exit) of a non-canonical value: KVM injects #GP; a canonical one is stored", () => {
    // KVM injects the #GP at the next VM entry (kvm_inj_exception), delivered without another exit.
    const bad = guest64(wrmsr(0xc000_0082, CANONICAL_57));
    bad.run({ stopOnExit: (e) => e.reason === "MSR_WRITE" });
    expect(bad.exits.at(-1)!.reason).toBe("MSR_WRITE");
    bad.run({ maxSteps: 1 });
    expect(bad.trace.lines("today").filter((l) => l.startsWith("kvm_inj_exception"))).toEqual([expect.stringMatching(/^kvm_inj_exception: #GP \(0x0\)/)]);
    const ok = guest64(wrmsr(0xc000_0082, 0xffff_aaaa_aaaa_aaaan));
    expect(gpErrorCode(ok)).toBeNull();
    expect(BigInt.asUintN(32, ok.readRegister("edx")) << 32n | BigInt.asUintN(32, ok.readRegister("eax"))).toBe(0xffff_aaaa_aaaa_aaaan);
  });

  const lgdt = (base: bigint) => `lgdt gdtr\nhlt\n.align 8\ngdtr: .word 15\n  .quad ${base}`;
  test("LGDT in 64-bit mode with a non-canonical base is #GP(0); a canonical one loads", () => {
    expect(gpErrorCode(guest64(lgdt(CANONICAL_57)))).toBe(0n);
    const ok = guest64(lgdt(0xffff_aaaa_aaaa_aaaan));
    expect(gpErrorCode(ok)).toBeNull();
    expect(ok.cpu.state.gdtr.base).toBe(0xffff_aaaa_aaaa_aaaan);
  });

  // A GDT whose 0x10 is a 16-byte available 64-bit TSS (type 9) with base 63:32 = `high` (SDM Vol. 3 Figure 8-4).
  const ltr = (high: bigint) => `lgdt gdtr
  mov $0x10, %ax
  ltr %ax
  hlt
.align 8
gdt: .quad 0, 0x00af9b000000ffff, 0x0000890000000067, ${high}
gdtr: .word 31
  .quad gdt`;
  test("LTR of a TSS descriptor whose 64-bit base is non-canonical is #GP(selector), the TSS not marked busy", () => {
    const bad = guest64(ltr(0xaaaa_aaaan));
    expect(gpErrorCode(bad)).toBe(0x10n);
    const gdt = Number(bad.symbols.get("gdt")!);
    expect(bad.readPhysical(gdt + 0x10 + 5, 1)[0]! & 0xf).toBe(9); // still available
    const ok = guest64(ltr(0xffff_ffffn)); // base 0xffffffff00000000: canonical
    expect(gpErrorCode(ok)).toBeNull();
    expect(ok.vmcs.read("GUEST_TR_BASE")).toBe(0xffff_ffff_0000_0000n);
  });
});
