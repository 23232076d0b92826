// Issue 14, x86: what the CPU advertises it models (CPUID), the instructions a real binary starts
// with (ENDBR64, LTR/STR/LLDT/SLDT, XSETBV), the architectural rules (CR0.PG in 64-bit mode, event
// delivery onto MMIO), the VMCS values hardware holds, and REP string instructions as steps.
// Expected values come from the Intel SDM and the Linux sources cited at each test.

import { describe, expect, test } from "vitest";
import { createX86Machine, type X86Machine } from "../../../runtime/x86/machine.js";
import { CPUID_FEATURES, cpuidHas, cpuidTable, featureModelled, kvmCpuid } from "../../../runtime/x86/kvm/cpuid.js";
import { decodeX86, disassembleX86 } from "../../../runtime/x86/isa/index.js";
import { assembleX86 } from "../../../runtime/x86/isa/asm/assembler.js";
import { decodeQual, GDTR_IDTR_INFO, LDTR_TR_INFO } from "../../../runtime/x86/vmx/qualification.js";
import { GuestFault } from "../../../runtime/x86/state.js";
import { KVM_ERAS, type KvmEra } from "../../../runtime/core/trace.js";

const guest32 = (body: string, era: KvmEra = "2015", stepLimit = 10_000): X86Machine =>
  createX86Machine({ guest: { source: `.code32\nstart:\n${body}\n` }, settings: { era, stepLimit } });
const guest64 = (body: string, era: KvmEra = "2015"): X86Machine =>
  createX86Machine({ guest: { source: `start:\n${body}\n`, mode: 64 }, settings: { era, stepLimit: 10_000 } });
const injected = (m: X86Machine) => m.trace.lines("2015").filter((l) => l.startsWith("kvm_inj_exception"));
const reasons = (m: X86Machine) => m.exits.map((e) => e.reason);
/** KVM reflected a #UD into the guest (the #UD intercept of the exception bitmap, then kvm_inj_exception). */
const ud = (m: X86Machine) => injected(m).some((l) => l.startsWith("kvm_inj_exception: #UD"));

describe("CPUID advertises exactly what is modelled (issue 14)", () => {
  // CPUID.1:ECX bits, SDM Vol. 2 Table 3-10: VMX 5, PCID 17, TSC-deadline 24, XSAVE 26, OSXSAVE 27, AVX 28; hypervisor 31.
  // Issue 16 added the local APIC: TSC-deadline (24) and x2APIC (21) are advertised since, with APIC (EDX 9).
  // Issue 15 added SSE/SSE2, FXSAVE, XSAVE and the AVX state and moves: XSAVE (26) and AVX (28) are advertised since, OSXSAVE (27) follows CR4 at run time.
  test.each(KVM_ERAS)("leaf 1 ECX has none of VMX, PCID, OSXSAVE; it has XSAVE, AVX, x2APIC and TSC-deadline (%s)", (era) => {
    const { ecx, edx } = kvmCpuid(1, era).entry;
    for (const bit of [5, 17, 27]) expect((ecx >>> bit) & 1, `ECX bit ${bit}`).toBe(0);
    expect([(ecx >>> 21) & 1, (ecx >>> 24) & 1, (ecx >>> 26) & 1, (ecx >>> 28) & 1, (edx >>> 9) & 1]).toEqual([1, 1, 1, 1, 1]);
    expect(ecx >>> 31).toBe(1); // KVM's hypervisor bit
    // EDX: PAE (6) and MSR (5), TSC (4), FXSR (24), SSE (25), SSE2 (26) are modelled; FPU (0: x87 arithmetic) and MMX (23) are not.
    expect([(edx >> 4) & 1, (edx >> 5) & 1, (edx >> 6) & 1, (edx >> 24) & 1, (edx >> 25) & 1, (edx >> 26) & 1, edx & 1, (edx >> 23) & 1]).toEqual([1, 1, 1, 1, 1, 1, 0, 0]);
    // 0x80000001 EDX: LM (29), NX (20).
    expect((kvmCpuid(0x8000_0001, era).entry.edx >>> 29) & 1).toBe(1);
  });

  test("leaf 0 EAX is the highest basic leaf of the table; the guest reads the table through a CPUID exit", () => {
    const t = cpuidTable("2015");
    expect(t.get(0)!.eax).toBe(Math.max(...[...t.keys()].filter((l) => l < 0x4000_0000)));
    const m = guest32("mov $1, %eax\ncpuid\nhlt");
    m.run();
    expect(Number(m.readRegister("ecx"))).toBe(kvmCpuid(1).entry.ecx);
    expect(Number(m.readRegister("edx"))).toBe(kvmCpuid(1).entry.edx);
  });

  // SDM Vol. 2 CPUID: a leaf above the highest basic or extended leaf returns the highest basic
  // leaf's data; KVM does the same (v4.1 check_cpuid_limit, today get_out_of_range_cpuid_entry).
  test.each(KVM_ERAS)("a leaf above its range's highest leaf is answered with the highest basic leaf (%s)", (era) => {
    const t = cpuidTable(era);
    const top = t.get(0)!.eax;
    const extTop = t.get(0x8000_0000)!.eax;
    const kvmTop = t.get(0x4000_0000)!.eax;
    for (const leaf of [top + 1, 0x3fff_ffff, extTop + 1, 0xc000_0000, 0xffff_ffff, kvmTop + 1]) {
      const a = kvmCpuid(leaf, era);
      expect(a, `leaf ${leaf.toString(16)}`).toEqual({ entry: t.get(top), found: false, usedMaxBasic: true });
    }
    // In range but not in the table, and a subleaf of an indexed leaf that does not exist: zeros.
    // (top + 1, 0x3f): leaf 0xD has no subleaf 0x3f, so the stand-in finds nothing either.
    for (const [leaf, index] of [[2, 0], [0x8000_0002, 0], [7, 1], [top + 1, 0x3f]] as const) {
      expect(kvmCpuid(leaf, era, index), `leaf ${leaf.toString(16)}.${index}`).toEqual({ entry: { eax: 0, ebx: 0, ecx: 0, edx: 0 }, found: false, usedMaxBasic: false });
    }
    // A subleaf of a leaf whose subleaf does not matter finds the leaf.
    expect(kvmCpuid(1, era, 5)).toEqual({ entry: t.get(1), found: true, usedMaxBasic: false });
  });

  test("the guest sees the highest basic leaf's values for leaf 0x80000009 (extended leaf above its range)", () => {
    const m = guest32("mov $0x80000009, %eax\nxor %ecx, %ecx\ncpuid\nhlt");
    m.run();
    const top = kvmCpuid(cpuidTable("2015").get(0)!.eax).entry;
    expect([m.readRegister("eax"), m.readRegister("ebx"), m.readRegister("ecx"), m.readRegister("edx")].map(Number)).toEqual([top.eax, top.ebx, top.ecx, top.edx]);
  });

  // Every advertised instruction feature runs without #UD; every absent one is #UD (a guest that
  // ignores CPUID crashes as on a CPU without it). The instruction bytes are each row's evidence.
  const insnRows = CPUID_FEATURES.filter((f) => f.evidence.kind === "insn");
  test.each(insnRows.map((f) => [f.name, f] as const))("instruction feature %s: advertised iff it executes", (_name, f) => {
    const bytes = (f.evidence as { bytes: readonly number[] }).bytes;
    // The OS enables SSE (CR4.OSFXSR) and, when XSAVE is offered, XSAVE (CR4.OSXSAVE) first: without them SSE and XSAVE are #UD by design.
    // AVX needs XCR0.SSE|YMM too (XSETBV of 7).
    const xsave = (f.name === "XSAVE" || f.name === "AVX") && cpuidHas("2015", "XSAVE");
    const cr4 = 0x200 | (xsave ? 0x40000 : 0);
    const xcr0 = f.name === "AVX" && xsave ? "xor %ecx, %ecx\nxor %edx, %edx\nmov $7, %eax\nxsetbv\n" : "";
    const m = guest64(`mov %cr4, %rax\nor $${cr4}, %rax\nmov %rax, %cr4\n${xcr0}lea buf(%rip), %rax\nmov $0x10, %ecx\n.byte ${bytes.join(", ")}\nhlt\n.align 64\nbuf: .space 1024`);
    m.run();
    expect(cpuidHas("2015", f.name)).toBe(featureModelled(f));
    expect(ud(m), `${f.name} #UD`).toBe(!cpuidHas("2015", f.name));
  });

  // Every advertised MSR feature's MSR is accepted by KVM; every absent one's is #GP (kvm_get_msr_common's unknown MSR).
  const msrRows = CPUID_FEATURES.filter((f) => f.evidence.kind === "msr");
  test.each(msrRows.map((f) => [f.name, f] as const))("MSR feature %s: advertised iff KVM accepts the MSR", (_name, f) => {
    const code = (f.evidence as { code: number }).code;
    const m = guest32(`mov $${code}, %ecx\nrdmsr\nhlt`);
    m.run();
    expect(injected(m).some((l) => l.includes("#GP"))).toBe(!cpuidHas("2015", f.name));
  });

  test("`show cpuid` lists every flag with its state and evidence, from the same table", () => {
    const m = createX86Machine();
    const v = m.view("cpuid");
    expect(v.rows).toHaveLength(CPUID_FEATURES.length + 1); // and leaf 1's HTT, which follows the vCPU count
    expect(v.rows).toContainEqual(["0x1", "ecx", 5, "VMX", "absent", expect.stringMatching(/nested VMX/)]);
    expect(v.rows).toContainEqual(["0x80000001", "edx", 29, "LM", "advertised", expect.any(String)]);
    expect(v.rows).toContainEqual(["0x1", "edx", 4, "TSC", "advertised", "instruction 0f 31"]);
  });

  test("the bits the issue names: CR4.VMXE is #GP; CR4.OSXSAVE is accepted since XSAVE is (issue 15; TSC-deadline since issue 16)", () => {
    expect(cpuidHas("2015", "TSC_DEADLINE_TIMER")).toBe(true);
    // kvm_set_cr4 (v4.1): OSXSAVE needs XSAVE in the guest's CPUID (offered since issue 15); vmx_set_cr4: VMXE needs nested VMX.
    // SMAP (21): the 2015 host (Haswell) has none, so its KVM refuses CR4.SMAP.
    for (const bit of [13, 17, 21]) {
      const m = guest32(`mov %cr4, %eax\nor $${1 << bit}, %eax\nmov %eax, %cr4\nhlt`);
      m.run();
      expect(injected(m).some((l) => l.includes("#GP")), `CR4 bit ${bit}`).toBe(true);
    }
    // Bits the model backs are accepted: PGE (7), OSFXSR (9), OSXSAVE (18), SMEP (20: Haswell has it).
    for (const bit of [7, 9, 18, 20]) {
      const ok = guest32(`mov %cr4, %eax\nor $${1 << bit}, %eax\nmov %eax, %cr4\nhlt`);
      ok.run();
      expect(injected(ok), `CR4 bit ${bit}`).toEqual([]);
    }
  });
});

describe("XSETBV, ENDBR, LTR/STR/LLDT/SLDT (issue 14)", () => {
  test("XSETBV with CR4.OSXSAVE = 0 is #UD from the CPU, no XSETBV exit (SDM Vol. 2 XSETBV; Vol. 3 25.1.1)", () => {
    const m = guest32("xor %ecx, %ecx\nmov $1, %eax\nxor %edx, %edx\nxsetbv\nhlt");
    m.run();
    expect(reasons(m)).not.toContain("XSETBV");
    expect(ud(m)).toBe(true);
  });

  test("with CR4.OSXSAVE set, XSETBV exits unconditionally and handle_xsetbv/kvm_set_xcr decide (x86.c)", () => {
    const m = guest32("mov %cr4, %eax\nor $0x40000, %eax\nmov %eax, %cr4\nxor %ecx, %ecx\nmov $1, %eax\nxor %edx, %edx\nxsetbv\nmov $3, %eax\nxsetbv\nmov $2, %eax\nxsetbv\nhlt");
    m.run();
    expect(reasons(m).filter((r) => r === "XSETBV")).toHaveLength(3);
    // XCR0 = x87, then x87|SSE (in guest_supported_xcr0, CPUID.(0xD,0):EAX = 3) accepted; SSE alone
    // (bit 0 clear) refused with #GP and XCR0 kept.
    expect(m.cpu.xcr0).toBe(3n);
    expect(injected(m).filter((l) => l.includes("#GP"))).toHaveLength(1);
  });

  test("ENDBR64/ENDBR32 and the 0f 1e hint NOPs decode, disassemble, assemble and run as NOPs (SDM Vol. 2 NOP, ENDBR64)", () => {
    const dec = (b: number[]) => decodeX86((i) => b[i] ?? 0x90, "long64");
    expect(dec([0xf3, 0x0f, 0x1e, 0xfa]).spec.mnemonic).toBe("endbr64");
    expect(dec([0xf3, 0x0f, 0x1e, 0xfb]).spec.mnemonic).toBe("endbr32");
    expect(dec([0x0f, 0x1e, 0xc8]).spec.sem).toBe("nop");
    expect([...assembleX86("endbr64\nendbr32", { base: 0n, bits: 64 }).bytes]).toEqual([0xf3, 0x0f, 0x1e, 0xfa, 0xf3, 0x0f, 0x1e, 0xfb]);
    expect(disassembleX86(dec([0xf3, 0x0f, 0x1e, 0xfa]), 0n)).toMatch(/^endbr64/);
    const m = guest64("endbr64\nmov $7, %eax\nhlt");
    m.run();
    expect(m.readRegister("eax")).toBe(7n);
    expect(ud(m)).toBe(false);
  });

  // A GDT with a 32-bit available TSS (type 9) at 0x28 and an LDT (type 2) at 0x30 (SDM Vol. 3 Figures 7-3 / 8-3, 3-8 / Table 3-2).
  const tables = `
  lgdt gdtr
  mov $0x30, %ax
  lldt %ax
  mov $0x28, %ax
  ltr %ax
  str %ebx
  sldt %esi
  hlt
.align 8
gdt: .quad 0, 0, 0x00cf9b000000ffff, 0x00cf93000000ffff, 0, 0x0000890000000067, 0x0000820000000fff
gdtr: .word 7*8-1
  .long gdt`;

  test("LTR/STR/LLDT/SLDT load and read TR and LDTR, and LTR marks the TSS busy (SDM Vol. 2 LTR)", () => {
    const m = guest32(tables);
    m.run();
    expect(m.readRegister("ebx")).toBe(0x28n);
    expect(m.readRegister("esi")).toBe(0x30n);
    expect(Number(m.vmcs.read("GUEST_TR_AR_BYTES")) & 0xf).toBe(11); // busy 32-bit TSS
    expect(m.vmcs.read("GUEST_TR_LIMIT")).toBe(0x67n);
    expect(m.vmcs.read("GUEST_LDTR_LIMIT")).toBe(0xfffn);
    const gdt = m.symbols.get("gdt")!;
    expect((m.readPhysical(Number(gdt) + 0x28 + 5, 1)[0]! & 0xf)).toBe(0xb); // busy in the GDT
    // LTR of a null selector is #GP(0); of a non-TSS descriptor #GP(selector).
    for (const [sel, code] of [[0x10, 0x10], [0, 0]] as const) {
      const bad = guest32(tables.replace("mov $0x28, %ax\n  ltr", `mov $${sel}, %ax\n  ltr`));
      bad.setTrap({ kind: "exception", arg: 13 }, true);
      bad.run({ stopOnExit: (e) => e.reason === "EXCEPTION_NMI" });
      expect(Number(bad.vmcs.read("VM_EXIT_INTR_INFO")) & 0xff).toBe(13);
      expect(bad.vmcs.read("VM_EXIT_INTR_ERROR_CODE")).toBe(BigInt(code));
    }
  });

  test("descriptor-table exiting (trap desc): exits 46/47 with the instruction information of SDM Tables 27-10/27-11", () => {
    const m = guest32(tables);
    m.setTrap({ kind: "desc" }, true);
    m.run({ stopOnExit: (e) => e.reason === "GDTR_IDTR" });
    expect(m.pendingExit!.reason).toBe("GDTR_IDTR");
    const gi = decodeQual(GDTR_IDTR_INFO, m.vmcs.read("VMX_INSTRUCTION_INFO"));
    expect(gi).toMatchObject({ identity: 2, base_invalid: 1, index_invalid: 1, address_size: 1, segment: 3 }); // lgdt, disp32, ds
    expect(m.vmcs.read("EXIT_QUALIFICATION")).toBe(m.symbols.get("gdtr")!); // the displacement
    // 2015 (v4.1) has no handler for reason 46: KVM_EXIT_UNKNOWN stops the VM.
    expect(m.handle().action).toBe("halt");
    // Today's handle_desc emulates it; LLDT then exits with reason 47.
    const t = guest32(tables, "today");
    t.setTrap({ kind: "desc" }, true);
    t.run({ stopOnExit: (e) => e.reason === "LDTR_TR" });
    const li = decodeQual(LDTR_TR_INFO, t.vmcs.read("VMX_INSTRUCTION_INFO"));
    expect(li).toMatchObject({ identity: 2, mem_reg: 1, reg1: 0 }); // lldt %ax
    t.run();
    expect(t.readRegister("ebx")).toBe(0x28n);
    expect(reasons(t).filter((r) => r === "LDTR_TR")).toHaveLength(4);
  });
});

describe("architectural rules (issue 14)", () => {
  const clearPg = "mov %cr0, %rax\nbtr $31, %rax\nmov %rax, %cr0\nhlt";

  test("clearing CR0.PG in 64-bit mode: today's kvm_set_cr0 refuses it (#GP), v4.1 accepted it", () => {
    // x86.c today: `if (!(cr0 & X86_CR0_PG) && (is_64_bit_mode(vcpu) || kvm_is_cr4_bit_set(vcpu, X86_CR4_PCIDE))) return 1;`
    // ("KVM: X86: Raise #GP when clearing CR0_PG in 64 bit mode", 2021); v4.1 checked only PCIDE.
    const today = guest64(clearPg, "today");
    today.run();
    expect(injected(today).some((l) => l.includes("#GP"))).toBe(true);
    expect(today.cpu.state.mode).toBe("long64");
    const old = guest64(clearPg, "2015");
    old.run();
    expect(injected(old)).toEqual([]);
    expect(old.cpu.state.mode).not.toBe("long64");
  });

  test("the CPU's own MOV-to-CR0 check: PG = 0 in 64-bit mode is #GP(0) (SDM Vol. 3 9.8.5.4, Vol. 2 MOV CR)", () => {
    const m = guest64("hlt");
    expect(m.cpu.state.mode).toBe("long64");
    expect(() => m.cpu.checkCr0(m.cpu.state.cr0 & ~(1n << 31n))).toThrow(GuestFault);
  });

  // An exception frame pushed onto a stack in MMIO space (no memslot).
  const mmioStack = `
  lidt idtr
  mov $0xfe000000, %esp
  ud2
handler:
  hlt
.align 8
idt:
  .rept 32
  .word handler - 0x400000, 0x10, 0x8e00, 0x40
  .endr
idtr:
  .word 32*8-1
  .long idt`;

  test("exception delivery onto an MMIO stack stops with KVM_EXIT_INTERNAL_ERROR / DELIVERY_EV instead of looping", () => {
    // v4.1 vmx_handle_exit: an EPT misconfig with valid IDT-vectoring info is not fixable: suberror 3.
    const old = guest32(mmioStack, "2015", 2000);
    const r = old.run();
    expect(r.stop).toBe("halted");
    expect(r.message).toMatch(/Suberror: 3/);
    expect(reasons(old)).toEqual(["EPT_VIOLATION", "EXCEPTION_NMI", "EPT_VIOLATION", "EPT_MISCONFIG"]);
    expect(old.trace.lines("2015").at(-1)).toMatch(/^kvm_userspace_exit: reason KVM_EXIT_INTERNAL_ERROR \(17\)/);
    // Today (vmx_check_emulate_instruction, X86EMUL_UNHANDLEABLE_VECTORING): already at the EPT violation.
    const now = guest32(mmioStack, "today", 2000);
    expect(now.run().stop).toBe("halted");
    expect(reasons(now)).toEqual(["EPT_VIOLATION", "EXCEPTION_NMI", "EPT_VIOLATION"]);
  });
});

describe("VMCS values hardware holds (issue 14)", () => {
  test("controls carry the default1 bits (SDM Vol. 3 Appendix A.3-A.5; adjust_vmx_controls ORs the MSR's low word)", () => {
    const m = createX86Machine();
    // PIN: EXT_INTR_MASK | NMI_EXITING | VIRTUAL_NMIS = 0x29, default1 0x16.
    expect(m.vmcs.read32("PIN_BASED_VM_EXEC_CONTROL")).toBe(0x3f);
    const cpu = m.vmcs.read32("CPU_BASED_VM_EXEC_CONTROL");
    expect(cpu & 0x0400_6172).toBe(0x0400_6172); // default1 bits but CR3 load/store (cleared with EPT)
    expect(m.vmcs.read32("VM_EXIT_CONTROLS") & 0x3_6dff).toBe(0x3_6dff);
    expect(m.vmcs.read32("VM_ENTRY_CONTROLS") & 0x11ff).toBe(0x11ff);
  });

  test("EXCEPTION_BITMAP by era: #AC (17) only after Linux 4.4; `set era` re-applies it", () => {
    const m = createX86Machine();
    expect(m.vmcs.read32("EXCEPTION_BITMAP")).toBe(0x4_0042);
    m.set("era", "today");
    expect(m.vmcs.read32("EXCEPTION_BITMAP")).toBe(0x6_0042);
    expect(createX86Machine({ settings: { era: "today" } }).vmcs.read32("EXCEPTION_BITMAP")).toBe(0x6_0042);
  });

  test("EPT leaves: write-back with IPAT, as vmx_get_mt_mask sets them (v4.1: (MTRR_TYPE_WRBACK << 3) | VMX_EPT_IPAT_BIT)", () => {
    const m = createX86Machine();
    m.run();
    const leaves = m.ept.mappings();
    expect(leaves.length).toBeGreaterThan(0);
    for (const [, e] of leaves) expect(Number(e & 0x78n)).toBe(0x70);
  });
});

describe("REP string instructions are interruptible, an iteration per step (issue 14; SDM Vol. 2 REP)", () => {
  const stos = "mov $0x1000000, %ecx\nmov $0x1000000, %edi\nxor %eax, %eax\ncld\nrep stosb\nhlt";

  test("the step limit stops rep stosb between iterations: rip on the instruction, ecx counts down", () => {
    const m = guest32(stos, "2015", 1000);
    const r = m.run();
    expect(r.stop).toBe("limit");
    const rip = m.readRegister("rip");
    expect(m.readRegister("ecx")).toBe(0x100_0000n - (BigInt(m.steps) - 4n)); // 4 instructions before it
    expect(m.readRegister("edi") - 0x100_0000n).toBe(0x100_0000n - m.readRegister("ecx"));
    // One step is one iteration.
    const before = m.readRegister("ecx");
    expect(m.step().steps).toBe(1);
    expect(m.readRegister("ecx")).toBe(before - 1n);
    expect(m.readRegister("rip")).toBe(rip);
  });

  test("an interrupt request stops it promptly even though it exits (EPT violations) every page", () => {
    const m = guest32(stos, "2015", 100_000_000);
    let polls = 0;
    const r = m.run({ interrupted: () => ++polls > 2 });
    expect(r.stop).toBe("interrupted");
    expect(m.steps).toBeLessThan(1_000_000);
  });

  test("rep movsw / std; rep lodsw / rep stosq in 64-bit mode leave memory and registers as the SDM says", () => {
    const m = guest64(`lea src(%rip), %rsi
lea dst(%rip), %rdi
mov $5, %ecx
rep movsw
lea src+8(%rip), %rsi
std
mov $3, %ecx
rep lodsw
cld
movabs $0x1122334455667788, %rax
lea buf(%rip), %rdi
mov $2, %rcx
rep stosq
hlt
src: .byte 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16
dst: .space 16
buf: .space 16`);
    m.run();
    const at = (name: string, n: number) => [...m.readPhysical(Number(m.symbols.get(name)!), n)];
    expect(at("dst", 16)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 0, 0, 0, 0, 0]);
    // lodsw with DF = 1 from src+8: src+8, src+6, src+4; RSI = src+2 (AX is overwritten after).
    expect(m.readRegister("rsi")).toBe(m.symbols.get("src")! + 2n);
    expect(at("buf", 16)).toEqual([0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);
    expect(m.readRegister("rdi")).toBe(m.symbols.get("buf")! + 16n);
    expect(m.readRegister("rcx")).toBe(0n);
    // Steps: 13 instructions, plus 5 + 3 + 2 iterations counted instead of their 3 instructions.
    expect(m.steps).toBe(13 - 3 + 10); // the HLT exits (not a step)
  });

  test("a fault after a completed rep counts only the faulting instruction's own iterations", () => {
    // rep stosb (5 iterations), then a load from MMIO space (an EPT violation on the compiled path): 3 + 5 steps.
    const m = guest32("mov $5, %ecx\nmov $0x100000, %edi\nxor %eax, %eax\nrep stosb\nmov 0xfe000000, %eax");
    m.set("jit", false); // the interpreter's loop (execOne) for every instruction
    m.run({ stopOnExit: (e) => e.reason === "EPT_VIOLATION" && m.vmcs.read("GUEST_PHYSICAL_ADDRESS") === 0xfe00_0000n });
    expect(m.steps).toBe(3 + 5);
  });

  test("a short rep stosb completes and counts each iteration as a step", () => {
    const m = guest32("mov $100, %ecx\nmov $0x100000, %edi\nmov $0xab, %al\nrep stosb\nhlt");
    m.run();
    expect(m.readRegister("ecx")).toBe(0n);
    expect(m.readPhysical(0x100000, 100).every((b) => b === 0xab)).toBe(true);
    expect(m.steps).toBe(3 + 100);
  });
});
