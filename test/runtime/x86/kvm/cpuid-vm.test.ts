// The VM's own CPUID (runtime/x86/kvm/cpuid-vm.ts): leaf 0xB from the -smp topology as QEMU 7.2
// hands it to KVM (target/i386/cpu.c cpu_x86_cpuid case 0xB; kvm_arch_init_vcpu: subleaves 0-2),
// KVM's answer for a subleaf beyond them (arch/x86/kvm/cpuid.c kvm_cpuid), and `-cpu ...,-x2apic`:
// CPUID.1:ECX.x2APIC clear and IA32_APIC_BASE.EXTD a reserved bit (kvm_apic_set_base).

import { describe, expect, test } from "vitest";
import { createX86Machine, type X86Machine } from "../../../../runtime/x86/machine.js";
import { bitsFor, smpLeaf1, smpTopology, topologyLeaf, vmCpuid } from "../../../../runtime/x86/kvm/cpuid-vm.js";
import { cpuModelCleared, modelledCpuSpec } from "../../../../runtime/x86/kvm/cpu-model.js";
import { ExitlabError } from "../../../../runtime/core/errors.js";

/** Run `body` (32-bit protected mode, paging off) to its HLT; no IDT, so a #GP ends in a triple fault. */
function run(body: string, options: { vcpus?: number; cpu?: string } = {}): X86Machine {
  const m = createX86Machine({ guest: { source: `.code32\nstart:\n${body}\nhlt\n` }, settings: { stepLimit: 10_000, era: "today", ...(options.vcpus ? { vcpus: options.vcpus } : {}) }, ...(options.cpu ? { cpu: options.cpu } : {}) });
  m.run();
  return m;
}
const regs = (m: X86Machine, ...names: string[]) => names.map((n) => Number(m.readRegister(n)));
const cpuid = (leaf: number, sub: number) => `mov $${leaf}, %eax\nmov $${sub}, %ecx\ncpuid\n`;

describe("CPUID leaf 0xB, extended topology (SDM Vol. 2A CPUID 0BH; QEMU 7.2 -smp N: one socket of N cores)", () => {
  test("apicid_bitwidth_for_count: the bits that number N IDs", () => {
    expect([1, 2, 3, 4, 5, 8].map(bitsFor)).toEqual([0, 1, 2, 2, 3, 3]);
    expect(smpTopology(2)).toEqual({ threads: 1, cores: 2, coreOffset: 0, pkgOffset: 1 });
    expect(smpTopology(5).pkgOffset).toBe(3);
  });

  test("vCPU 1 of 2: SMT level (shift 0, 1 thread), core level (shift 1, 2 processors), then invalid; EDX its x2APIC ID", () => {
    expect(topologyLeaf(2, 1, 0)).toEqual({ entry: { eax: 0, ebx: 1, ecx: 0x100, edx: 1 }, found: true });
    expect(topologyLeaf(2, 1, 1)).toEqual({ entry: { eax: 1, ebx: 2, ecx: 0x201, edx: 1 }, found: true });
    expect(topologyLeaf(2, 1, 2)).toEqual({ entry: { eax: 0, ebx: 0, ecx: 2, edx: 1 }, found: true });
    // Beyond QEMU's entries KVM answers zeros with ECX[7:0] = the subleaf and EDX = the x2APIC ID.
    expect(topologyLeaf(2, 1, 0x105)).toEqual({ entry: { eax: 0, ebx: 0, ecx: 5, edx: 1 }, found: false });
  });

  test("a guest on a 2-vCPU VM reads its leaf 0xB; leaf 0 says 0xB is in range", () => {
    const m = run(`${cpuid(0, 0)}mov %eax, %esi\n${cpuid(0xb, 1)}mov %eax, %edi\nmov %ebx, %ebp\n${cpuid(0xb, 0)}`, { vcpus: 2 });
    expect(m.halted?.message ?? "").not.toMatch(/triple fault/);
    const [max, eax1, ebx1, eax0, ebx0, ecx0, edx0] = regs(m, "esi", "edi", "ebp", "eax", "ebx", "ecx", "edx");
    expect(max).toBeGreaterThanOrEqual(0xb);
    expect([eax1, ebx1]).toEqual([1, 2]);
    expect([eax0, ebx0, ecx0, edx0]).toEqual([0, 1, 0x100, 0]);
  });

  test("one vCPU: its core level counts one processor, shift 0", () => {
    const m = run(cpuid(0xb, 1));
    expect(regs(m, "eax", "ebx", "ecx")).toEqual([0, 1, 0x201]);
  });
});

describe("CPUID.1:EBX[23:16] and EDX.HTT follow -smp (QEMU 7.2 cpu_x86_cpuid case 1: nr_cores * nr_threads > 1)", () => {
  test("one vCPU: EBX[23:16] is 0 and HTT clear, as QEMU gives -smp 1", () => {
    const [ebx = 0, edx = 0] = regs(run(cpuid(1, 0)), "ebx", "edx");
    expect((ebx >>> 16) & 0xff).toBe(0);
    expect((edx >>> 28) & 1).toBe(0);
    expect(ebx & 0xff00).toBe(0x800); // the CLFLUSH line size stays
  });
  test.each([2, 3, 4])("%i vCPUs: EBX[23:16] is the count and HTT set", (n) => {
    const [ebx = 0, edx = 0] = regs(run(cpuid(1, 0), { vcpus: n }), "ebx", "edx");
    expect((ebx >>> 16) & 0xff).toBe(n);
    expect((edx >>> 28) & 1).toBe(1);
  });
  test("smpLeaf1 leaves the other bits alone", () => {
    expect(smpLeaf1(2, { eax: 1, ebx: 0x0300_0800, ecx: 2, edx: 0x10 })).toEqual({ eax: 1, ebx: 0x0302_0800, ecx: 2, edx: 0x1000_0010 });
    const one = { eax: 1, ebx: 0x800, ecx: 2, edx: 3 };
    expect(smpLeaf1(1, one)).toBe(one);
  });
});

describe("-cpu ...,-x2apic (QEMU's flag, KVM_SET_CPUID2 without CPUID.1:ECX[21])", () => {
  const enableX2 = `${cpuid(1, 0)}mov %ecx, %esi\nmov $0x1b, %ecx\nrdmsr\nor $0xc00, %eax\nwrmsr\n`;
  test("without the flag the guest sees x2APIC and enters x2APIC mode", () => {
    const m = run(enableX2);
    expect(regs(m, "esi")[0]! & (1 << 21)).not.toBe(0);
    expect(m.irq.lapic.x2apic).toBe(true);
  });
  test("-x2apic: CPUID.1:ECX.x2APIC is clear and setting IA32_APIC_BASE.EXTD #GPs (a reserved bit: kvm_apic_set_base)", () => {
    const m = run(enableX2, { cpu: "host,-x2apic" });
    expect(regs(m, "esi")[0]! & (1 << 21)).toBe(0);
    expect(m.irq.lapic.x2apic).toBe(false);
    expect(m.halted?.message ?? "").toMatch(/triple fault/);
  });
  test("+x2apic changes nothing the model offers; an unknown flag or model is an error naming the known ones", () => {
    expect(vmCpuid(1, "host,+x2apic").cleared).toEqual([]);
    expect(() => vmCpuid(1, "host,-avx512f")).toThrow(ExitlabError);
    expect(() => vmCpuid(1, "Pentium9")).toThrow(ExitlabError);
    try {
      vmCpuid(1, "host,-avx512f");
    } catch (e) {
      expect((e as ExitlabError).hint).toMatch(/x2apic, .*tsc-deadline/);
    }
  });
  test("QEMU's precedence (x86_cpu_parse_featurestr): f=on|off in order, then every +f, then every -f", () => {
    const q = cpuModelCleared("qemu64,-x2apic,+tsc-deadline,+smep");
    expect(q).toEqual(expect.arrayContaining(["X2APIC", "SMAP", "PKU"]));
    expect(q).not.toEqual(expect.arrayContaining(["TSC_DEADLINE_TIMER"]));
    expect(q).not.toContain("SMEP");
    expect(cpuModelCleared("max,+x2apic,x2apic=off")).toEqual([]);
    expect(cpuModelCleared("max,-x2apic,+x2apic")).toEqual(["X2APIC"]);
    expect(cpuModelCleared("max,smep=off,smep=on,smap=on,smap=off")).toEqual(["SMAP"]);
    expect(modelledCpuSpec("qemu64,+x2apic,x2apic=off,vendor=AuthenticAMD,+avx,+svm")).toBe("qemu64,+x2apic,x2apic=off,+avx");
  });
});
