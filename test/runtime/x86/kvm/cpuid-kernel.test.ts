// The CPUID bits a 64-bit Linux kernel checks before it runs (arch/x86/include/asm/required-features.h,
// REQUIRED_MASK0/1 with CONFIG_X86_64: FPU MSR PAE CX8 PGE CMOV FXSR XMM XMM2 in CPUID.1:EDX, LM in
// 0x80000001:EDX; NEED_PSE is 0 there; NOPL is a synthetic bit, not CPUID), plus SEP and MTRR it uses
// when present, against the guest's -cpu model (QEMU 7.2 builtin_x86_defs, qemu-cpu-models.ts):
// a bit is in CPUID exactly when the model has it and exitlab runs what it promises (cpuid.ts evidence).

import { describe, expect, test } from "vitest";
import { createX86Machine } from "../../../../runtime/x86/machine.js";
import { CPUID_FEATURES, cpuidHas, featureModelled } from "../../../../runtime/x86/kvm/cpuid.js";

/** CPUID.1 EDX/ECX and 0x80000001 ECX/EDX as a 32-bit guest under `cpu` reads them. */
function leaves(cpu: string): { edx1: number; ecx1: number; ecx81: number; edx81: number } {
  const m = createX86Machine({
    guest: { source: ".code32\nstart:\nmov $1, %eax\ncpuid\nmov %edx, %esi\nmov %ecx, %edi\nmov $0x80000001, %eax\ncpuid\nhlt\n" },
    settings: { stepLimit: 10_000, era: "today" },
    cpu,
  });
  m.run();
  const r = (n: string) => Number(m.readRegister(n));
  return { edx1: r("esi"), ecx1: r("edi"), ecx81: r("ecx"), edx81: r("edx") };
}

const EDX1 = { FPU: 0, PSE: 3, TSC: 4, MSR: 5, PAE: 6, CX8: 8, SEP: 11, MTRR: 12, PGE: 13, CMOV: 15, MMX: 23, FXSR: 24, XMM: 25, XMM2: 26 };
const ECX1 = { SSSE3: 9, CX16: 13, XMM4_1: 19, XMM4_2: 20, MOVBE: 22, POPCNT: 23 };
const ECX81 = { ABM: 5 };
const on = (word: number, bits: Record<string, number>) => Object.entries(bits).filter(([, b]) => (word >>> b) & 1).map(([n]) => n);

describe("CPUID for a 64-bit kernel, per -cpu model", () => {
  // FPU and MMX stay off (no x87 arithmetic, no MMX: cpuid.ts), SSSE3 and SSE4.x too (no PSHUFB, PTEST, CRC32 ...).
  test.each([
    ["qemu64", ["PSE", "TSC", "MSR", "PAE", "CX8", "SEP", "MTRR", "PGE", "CMOV", "FXSR", "XMM", "XMM2"], ["CX16"], []],
    ["Haswell", ["PSE", "TSC", "MSR", "PAE", "CX8", "SEP", "MTRR", "PGE", "CMOV", "FXSR", "XMM", "XMM2"], ["CX16", "MOVBE", "POPCNT"], ["ABM"]],
    ["max", ["PSE", "TSC", "MSR", "PAE", "CX8", "SEP", "MTRR", "PGE", "CMOV", "FXSR", "XMM", "XMM2"], ["CX16", "MOVBE", "POPCNT"], ["ABM"]],
    ["Conroe", ["PSE", "TSC", "MSR", "PAE", "CX8", "SEP", "MTRR", "PGE", "CMOV", "FXSR", "XMM", "XMM2"], [], []],
    ["qemu64,-cx8,-sep,-mtrr", ["PSE", "TSC", "MSR", "PAE", "PGE", "CMOV", "FXSR", "XMM", "XMM2"], ["CX16"], []],
    ["qemu64,+popcnt,+movbe", ["PSE", "TSC", "MSR", "PAE", "CX8", "SEP", "MTRR", "PGE", "CMOV", "FXSR", "XMM", "XMM2"], ["CX16", "MOVBE", "POPCNT"], []],
  ])("-cpu %s", (cpu, edx1, ecx1, ecx81) => {
    const l = leaves(cpu);
    expect(on(l.edx1, EDX1)).toEqual(edx1);
    expect(on(l.ecx1, ECX1)).toEqual(ecx1);
    expect(on(l.ecx81, ECX81)).toEqual(ecx81);
    expect((l.edx81 >>> 29) & 1).toBe(1); // LM
  });

  test("of required-features.h's x86_64 list only FPU is missing, and it is because x87 arithmetic is not modelled", () => {
    const required = ["FPU", "MSR", "PAE", "CX8", "PGE", "CMOV", "FXSR", "XMM", "XMM2", "LM"];
    expect(required.filter((n) => !cpuidHas("today", n))).toEqual(["FPU"]);
    const fpu = CPUID_FEATURES.find((f) => f.name === "FPU")!;
    expect(featureModelled(fpu)).toBe(false);
  });

  test("the newly backed rows: each evidence holds in both eras", () => {
    for (const n of ["CX8", "CX16", "SEP", "MTRR", "POPCNT", "MOVBE", "ABM"]) expect([n, cpuidHas("2015", n), cpuidHas("today", n)]).toEqual([n, true, true]);
  });
});
