// Issue 15: SSE/SSE2, the x87 control words, FXSAVE/XSAVE and the AVX moves on the x86 vCPU, and
// KVM's XSETBV exit. Small guests (instruction bytes as `.byte`: the assembler does not produce
// SSE forms) run on the VMX machine; expected values come from the Intel SDM pages cited at each
// test and from Linux arch/x86/kvm/x86.c (__kvm_set_xcr).

import { describe, expect, test } from "vitest";
import { createX86Machine, type X86Machine } from "../../../runtime/x86/machine.js";
import { FXSAVE_LAYOUT, MXCSR_RESET } from "../../../runtime/x86/fpu-state.js";
import { kvmCpuid } from "../../../runtime/x86/kvm/cpuid.js";
import { decodeX86, disassembleX86 } from "../../../runtime/x86/isa/index.js";
import type { KvmEra } from "../../../runtime/core/trace.js";

const guest64 = (body: string, era: KvmEra = "today"): X86Machine => {
  const m = createX86Machine({ guest: { source: `start:\n${body}\n`, mode: 64 }, settings: { era, stepLimit: 20_000 } });
  for (const vector of [7, 13]) m.setTrap({ kind: "exception", arg: vector }, true);
  return m;
};
const injected = (m: X86Machine, era: KvmEra = "today") => m.trace.lines(era).filter((l) => l.startsWith("kvm_inj_exception"));
/**
 * The exceptions KVM injected, in order. #NM and #GP reach the guest without an exit unless the
 * exception bitmap traps them (then KVM re-injects them, traced): `guest64` traps both. The guests
 * have no IDT, so the first exception ends the run (delivery faults after it).
 */
const exceptions = (m: X86Machine) => injected(m).map((l) => /#[A-Z]+/.exec(l)?.[0]);
const first = (m: X86Machine) => exceptions(m).slice(0, 1);
const fpu = (m: X86Machine) => m.cpu.state.fpu!;

/** CR4.OSFXSR (bit 9), and CR4.OSXSAVE (bit 18) when `xsave`. */
const enable = (xsave = false) => `mov %cr4, %rax\nor $${0x200 | (xsave ? 0x40000 : 0)}, %rax\nmov %rax, %cr4\n`;
/** XSETBV of XCR0 = `v`. */
const setXcr0 = (v: number) => `xor %ecx, %ecx\nxor %edx, %edx\nmov $${v}, %eax\nxsetbv\n`;

// Encodings (SDM Vol. 2; objdump's text alongside).
const MOVDQA_LOAD_XMM1 = "0x66, 0x0f, 0x6f, 0x0b"; // movdqa (%rbx),%xmm1
const MOVDQA_XMM1_XMM9 = "0x66, 0x44, 0x0f, 0x6f, 0xc9"; // movdqa %xmm1,%xmm9
const MOVDQU_STORE_XMM9 = "0xf3, 0x44, 0x0f, 0x7f, 0x0e"; // movdqu %xmm9,(%rsi)
const PXOR_XMM1_XMM1 = "0x66, 0x0f, 0xef, 0xc9"; // pxor %xmm1,%xmm1
const MOVQ_RAX_XMM2 = "0x66, 0x48, 0x0f, 0x6e, 0xd0"; // movq %rax,%xmm2
const MOVD_XMM2_ECX = "0x66, 0x0f, 0x7e, 0xd1"; // movd %xmm2,%ecx
const FXSAVE_RDI = "0x0f, 0xae, 0x07"; // fxsave (%rdi)
const FXRSTOR_RDI = "0x0f, 0xae, 0x0f"; // fxrstor (%rdi)
const LDMXCSR_RBX = "0x0f, 0xae, 0x13"; // ldmxcsr (%rbx)
const XSAVE_RDI = "0x0f, 0xae, 0x27"; // xsave (%rdi)
const XRSTOR_RDI = "0x0f, 0xae, 0x2f"; // xrstor (%rdi)
const VMOVDQA_LOAD_YMM3 = "0xc5, 0xfd, 0x6f, 0x1b"; // vmovdqa (%rbx),%ymm3
const VMOVDQA_LOAD_XMM3 = "0xc5, 0xf9, 0x6f, 0x1b"; // vmovdqa (%rbx),%xmm3

const DATA = `
.align 64
src: .quad 0x1122334455667788, 0x99aabbccddeeff00, 0x0123456789abcdef, 0xfedcba9876543210
dst: .quad 0, 0, 0, 0
.align 64
area: .space 1024`;

describe("SSE/SSE2 (issue 15)", () => {
  test("MOVDQA load, register move to XMM9 (REX.R), MOVDQU store: the 128 bits come back unchanged; PXOR zeroes", () => {
    const m = guest64(`${enable()}lea src(%rip), %rbx\nlea dst(%rip), %rsi\n.byte ${MOVDQA_LOAD_XMM1}\n.byte ${MOVDQA_XMM1_XMM9}\n.byte ${MOVDQU_STORE_XMM9}\n.byte ${PXOR_XMM1_XMM1}\nmov (%rsi), %r10\nmov 8(%rsi), %r11\nhlt${DATA}`);
    m.run();
    expect(exceptions(m)).toEqual([]);
    expect(m.readRegister("r10")).toBe(0x1122334455667788n);
    expect(m.readRegister("r11")).toBe(0x99aabbccddeeff00n);
    expect(Array.from(fpu(m).xmm.subarray(4, 8))).toEqual([0, 0, 0, 0]); // xmm1 after pxor
    expect(Array.from(fpu(m).xmm.subarray(36, 40))).toEqual([0x55667788, 0x11223344, 0xddeeff00, 0x99aabbcc]); // xmm9
  });

  test("MOVQ r64→xmm zero-extends; MOVD xmm→r32 takes the low 32 bits and zero-extends the GPR (SDM Vol. 2 MOVD/MOVQ)", () => {
    const m = guest64(`${enable()}lea src(%rip), %rbx\n.byte ${MOVDQA_LOAD_XMM1.replace("0x0b", "0x13")}\nmov $0x1234567890abcdef, %rax\n.byte ${MOVQ_RAX_XMM2}\nmov $-1, %rcx\n.byte ${MOVD_XMM2_ECX}\nhlt${DATA}`);
    m.run();
    expect(exceptions(m)).toEqual([]);
    expect(Array.from(fpu(m).xmm.subarray(8, 12))).toEqual([0x90abcdef, 0x12345678, 0, 0]);
    expect(m.readRegister("rcx")).toBe(0x90abcdefn);
  });

  test("without CR4.OSFXSR an SSE instruction is #UD; with CR0.EM #UD too; with CR0.TS #NM (SDM Vol. 3A 2.5, 13.1.4)", () => {
    const noOsfxsr = guest64(`lea src(%rip), %rbx\n.byte ${MOVDQA_LOAD_XMM1}\nhlt${DATA}`);
    noOsfxsr.run();
    expect(first(noOsfxsr)).toEqual(["#UD"]);
    const em = guest64(`${enable()}mov %cr0, %rax\nor $4, %rax\nmov %rax, %cr0\nlea src(%rip), %rbx\n.byte ${MOVDQA_LOAD_XMM1}\nhlt${DATA}`);
    em.run();
    expect(first(em)).toEqual(["#UD"]);
    const ts = guest64(`${enable()}mov %cr0, %rax\nor $8, %rax\nmov %rax, %cr0\nlea src(%rip), %rbx\n.byte ${MOVDQA_LOAD_XMM1}\nhlt${DATA}`);
    ts.run();
    expect(first(ts)).toEqual(["#NM"]);
  });

  test("MOVDQA with a misaligned operand is #GP(0); MOVDQU is not (SDM Vol. 2 MOVDQA, MOVDQU)", () => {
    const a = guest64(`${enable()}lea src+8(%rip), %rbx\n.byte ${MOVDQA_LOAD_XMM1}\nhlt${DATA}`);
    a.run();
    expect(first(a)).toEqual(["#GP"]);
    const u = guest64(`${enable()}lea src+8(%rip), %rbx\n.byte 0xf3, 0x0f, 0x6f, 0x0b\nhlt${DATA}`);
    u.run();
    expect(exceptions(u)).toEqual([]);
    expect(Array.from(fpu(u).xmm.subarray(4, 8))).toEqual([0xddeeff00, 0x99aabbcc, 0x89abcdef, 0x01234567]);
  });

  test("LDMXCSR takes 0x1f80-style values and #GPs on a bit outside MXCSR_MASK (SDM Vol. 2 LDMXCSR)", () => {
    expect(new (createX86Machine().cpu.state.fpu!.constructor as new () => { mxcsr: number })().mxcsr).toBe(MXCSR_RESET);
    const ok = guest64(`${enable()}lea v(%rip), %rbx\n.byte ${LDMXCSR_RBX}\nhlt\n.align 4\nv: .long 0x9fc0`);
    ok.run();
    expect(fpu(ok).mxcsr).toBe(0x9fc0);
    const bad = guest64(`${enable()}lea v(%rip), %rbx\n.byte ${LDMXCSR_RBX}\nhlt\n.align 4\nv: .long 0x10000`);
    bad.run();
    expect(first(bad)).toEqual(["#GP"]);
    expect(fpu(bad).mxcsr).toBe(MXCSR_RESET);
  });

  test("the SSE forms disassemble as objdump prints them", () => {
    const dis = (hex: string) => {
      const b = Buffer.from(hex, "hex");
      return disassembleX86(decodeX86((i) => b[i] ?? 0x90, "long64"), 0n);
    };
    expect(dis("660f6f0b")).toBe("movdqa (%rbx),%xmm1");
    expect(dis("66480f6ed0")).toBe("movq %rax,%xmm2");
    expect(dis("480fae07")).toBe("fxsave64 (%rdi)");
    expect(dis("dfe0")).toBe("fnstsw %ax");
    expect(dis("c5fd6f1b")).toBe("vmovdqa (%rbx),%ymm3");
    // MMX (NP 0F 6F) is not modelled: undefined.
    expect(dis("0f6fc0")).toBe("(bad)");
    // VEX after a 66 prefix, and VEX in real-address mode, are #UD (SDM Vol. 2 §2.3.2).
    expect(dis("66c5fd6f1b")).toBe("(bad)");
    const vex = Buffer.from("c5f96fc1", "hex");
    expect(decodeX86((i) => vex[i] ?? 0x90, "real").spec.sem).toBe("ud");
    expect(decodeX86((i) => vex[i] ?? 0x90, "protected32").spec.mnemonic).toBe("vmovdqa");
  });
});

describe("x87 control words and FXSAVE/FXRSTOR (issue 15)", () => {
  test("FNINIT, FNSTCW, FLDCW, FNSTSW AX: the words Linux's FPU probe reads (SDM Vol. 2 FINIT, FSTCW, FLDCW, FSTSW)", () => {
    const m = guest64(`fninit\nlea v(%rip), %rbx\nmovw $0x5a5a, (%rbx)\n.byte 0xd9, 0x3b\nmovzwl (%rbx), %r8d\nmovw $0x27f, 2(%rbx)\n.byte 0xd9, 0x6b, 0x02\nmov $-1, %eax\n.byte 0xdf, 0xe0\n.byte 0x9b\nhlt\n.align 4\nv: .long 0`.replace("fninit", ".byte 0xdb, 0xe3"));
    m.run();
    expect(exceptions(m)).toEqual([]);
    expect(m.readRegister("r8")).toBe(0x37fn); // FNSTCW after FNINIT
    expect(fpu(m).fcw).toBe(0x27f); // FLDCW
    expect(m.readRegister("rax") & 0xffff_ffffn).toBe(0xffff_0000n); // FNSTSW AX: FSW = 0, upper EAX kept
  });

  test("x87 instructions are #NM with CR0.EM; FWAIT is #NM only with CR0.MP and CR0.TS (SDM Vol. 3A Table 2-2)", () => {
    const em = guest64("mov %cr0, %rax\nor $4, %rax\nmov %rax, %cr0\n.byte 0xdb, 0xe3\nhlt");
    em.run();
    expect(first(em)).toEqual(["#NM"]);
    const waitTs = guest64("mov %cr0, %rax\nand $~2, %rax\nor $8, %rax\nmov %rax, %cr0\n.byte 0x9b\nhlt");
    waitTs.run();
    expect(exceptions(waitTs)).toEqual([]);
    const waitMpTs = guest64("mov %cr0, %rax\nor $10, %rax\nmov %rax, %cr0\n.byte 0x9b\nhlt");
    waitMpTs.run();
    expect(first(waitMpTs)).toEqual(["#NM"]);
  });

  test("FXSAVE writes the SDM's 512-byte layout: FCW at 0, FSW at 2, MXCSR at 24, MXCSR_MASK at 28, XMMn at 160 + 16n", () => {
    const m = guest64(`${enable()}lea src(%rip), %rbx\n.byte 0x66, 0x44, 0x0f, 0x6f, 0x3b\nlea area(%rip), %rdi\n.byte ${FXSAVE_RDI}\nhlt${DATA}`); // movdqa (%rbx),%xmm15
    m.run();
    expect(exceptions(m)).toEqual([]);
    const area = Number(m.symbols.get("area")!);
    const at = (off: number, n: number) => Buffer.from(m.readPhysical(area + off, n)).readUIntLE(0, n);
    expect(at(FXSAVE_LAYOUT.fcw.offset, 2)).toBe(0x37f);
    expect(at(FXSAVE_LAYOUT.fsw.offset, 2)).toBe(0);
    expect(at(FXSAVE_LAYOUT.ftw.offset, 1)).toBe(0);
    expect(at(FXSAVE_LAYOUT.mxcsr.offset, 4)).toBe(0x1f80);
    expect(at(FXSAVE_LAYOUT.mxcsrMask.offset, 4)).toBe(0xffff);
    const xmm15 = Buffer.from(m.readPhysical(area + 160 + 16 * 15, 16));
    expect(xmm15.readBigUInt64LE(0)).toBe(0x1122334455667788n);
    expect(xmm15.readBigUInt64LE(8)).toBe(0x99aabbccddeeff00n);
    expect(FXSAVE_LAYOUT.xmm.offset).toBe(160);
  });

  test("FXRSTOR gives back what FXSAVE stored; a reserved MXCSR bit in the image is #GP(0) and loads nothing", () => {
    const m = guest64(`${enable()}lea src(%rip), %rbx\n.byte ${MOVDQA_LOAD_XMM1}\nlea area(%rip), %rdi\n.byte ${FXSAVE_RDI}\n.byte ${PXOR_XMM1_XMM1}\n.byte ${FXRSTOR_RDI}\nhlt${DATA}`);
    m.run();
    expect(exceptions(m)).toEqual([]);
    expect(Array.from(fpu(m).xmm.subarray(4, 8))).toEqual([0x55667788, 0x11223344, 0xddeeff00, 0x99aabbcc]);
    const bad = guest64(`${enable()}lea area(%rip), %rdi\n.byte ${FXSAVE_RDI}\nmovl $0x20000, 24(%rdi)\nmovw $0x123, (%rdi)\n.byte ${FXRSTOR_RDI}\nhlt${DATA}`);
    bad.run();
    expect(first(bad)).toEqual(["#GP"]);
    expect(fpu(bad).fcw).toBe(0x37f);
  });
});

describe("XSAVE, XCR0 and KVM's XSETBV exit (issue 15)", () => {
  test("CPUID leaf 0xD: XCR0 may hold x87|SSE|AVX, 832 bytes for all, AVX's 256 bytes at 576; OSXSAVE and 0xD.0:EBX follow the vCPU", () => {
    const d0 = kvmCpuid(0xd, "today", 0);
    expect(d0.found).toBe(true);
    expect(d0.entry).toEqual({ eax: 7, ebx: 576, ecx: 832, edx: 0 });
    expect(kvmCpuid(0xd, "today", 1)).toEqual({ entry: { eax: 0, ebx: 0, ecx: 0, edx: 0 }, found: true, usedMaxBasic: false });
    expect(kvmCpuid(0xd, "today", 2).entry).toEqual({ eax: 256, ebx: 576, ecx: 0, edx: 0 });
    const m = guest64(`mov $1, %eax\ncpuid\nmov %ecx, %r8d\n${enable(true)}mov $1, %eax\ncpuid\nmov %ecx, %r9d\n${setXcr0(7)}mov $0xd, %eax\nxor %ecx, %ecx\ncpuid\nhlt`);
    m.run();
    expect((m.readRegister("r8") >> 27n) & 1n).toBe(0n);
    expect((m.readRegister("r9") >> 27n) & 1n).toBe(1n);
    expect(m.readRegister("rbx")).toBe(832n); // xstate_required_size(XCR0 = 7)
  });

  // __kvm_set_xcr (Linux arch/x86/kvm/x86.c): each refused value is #GP(0) injected by KVM and XCR0 keeps its value.
  test.each([
    ["index 1 (XCR1)", "mov $1, %ecx\nxor %edx, %edx\nmov $3, %eax"],
    ["SSE without x87 (bit 0 clear)", "xor %ecx, %ecx\nxor %edx, %edx\nmov $2, %eax"],
    ["YMM without SSE", "xor %ecx, %ecx\nxor %edx, %edx\nmov $5, %eax"],
    ["BNDREGS (bit 3): not in guest_supported_xcr0", "xor %ecx, %ecx\nxor %edx, %edx\nmov $0xb, %eax"],
    ["bit 32", "xor %ecx, %ecx\nmov $1, %edx\nmov $3, %eax"],
  ])("kvm_set_xcr refuses %s with #GP", (_what, setup) => {
    const m = guest64(`${enable(true)}${setup}\nxsetbv\nhlt`);
    m.run();
    expect(m.exits.map((e) => e.reason)).toContain("XSETBV");
    expect(first(m)).toEqual(["#GP"]);
    expect(m.cpu.xcr0).toBe(1n);
  });

  test("XSETBV and XGETBV ignore RCX[63:32] (ECX is the index): XCR0 = 7 is accepted and read back", () => {
    const m = guest64(`${enable(true)}xor %edx, %edx\nmov $0xabcd00000000, %rcx\nmov $7, %eax\nxsetbv\nmov $0x1200000000, %rcx\nxgetbv\nhlt`);
    m.run();
    expect(exceptions(m)).toEqual([]);
    expect(m.cpu.xcr0).toBe(7n);
    expect(m.readRegister("rax")).toBe(7n);
  });

  test("with CR4.OSXSAVE clear XSETBV is #UD from the CPU, before any exit (SDM Vol. 2 XSETBV; Vol. 3 25.1.1)", () => {
    const ud = guest64(`${setXcr0(3)}hlt`);
    ud.run();
    expect(first(ud)).toEqual(["#UD"]);
    expect(ud.exits.map((e) => e.reason)).not.toContain("XSETBV");
  });

  // v4.1's VMX_EXIT_REASONS does not name reason 55, so its kvm_exit prints the number (vmx/reasons.ts).
  test("every XSETBV is a kvm_exit with reason XSETBV (55): 0x37 in v4.1's trace, XSETBV in today's", () => {
    for (const era of ["2015", "today"] as const) {
      const m = guest64(`${enable(true)}${setXcr0(3)}hlt`, era);
      m.run();
      const exits = m.trace.lines(era).filter((l) => l.startsWith("kvm_exit") && l.includes(era === "2015" ? "reason 0x37 " : "reason XSETBV "));
      expect(exits, era).toHaveLength(1);
      expect(exits[0]).toMatch(era === "2015" ? /^kvm_exit: reason 0x37 rip 0x[0-9a-f]+ info 0 0$/ : /^kvm_exit: vcpu 0 reason XSETBV rip 0x[0-9a-f]+ info1 0x0+ /);
      expect(m.exits.find((e) => e.reason === "XSETBV")).toBeDefined();
    }
  });

  test("XSAVE of x87|SSE|YMM: legacy region, XSTATE_BV = 7 in the header, YMM upper halves at 576; XRSTOR with XSTATE_BV 0 puts them in their initial state", () => {
    const m = guest64(
      `${enable(true)}${setXcr0(7)}lea src(%rip), %rbx\n.byte ${VMOVDQA_LOAD_YMM3}\nlea area(%rip), %rdi\nmov $7, %eax\nxor %edx, %edx\n.byte ${XSAVE_RDI}\n` +
        `mov 512(%rdi), %r8\nmovq $0, 512(%rdi)\n.byte ${XRSTOR_RDI}\nhlt${DATA}`,
    );
    m.run();
    expect(exceptions(m)).toEqual([]);
    expect(m.readRegister("r8")).toBe(7n);
    const area = Number(m.symbols.get("area")!);
    const hi = Buffer.from(m.readPhysical(area + 576 + 16 * 3, 16));
    expect(hi.readBigUInt64LE(0)).toBe(0x0123456789abcdefn);
    expect(hi.readBigUInt64LE(8)).toBe(0xfedcba9876543210n);
    const xmm3 = Buffer.from(m.readPhysical(area + 160 + 16 * 3, 16));
    expect(xmm3.readBigUInt64LE(0)).toBe(0x1122334455667788n);
    // XRSTOR with XSTATE_BV = 0: x87, SSE and YMM in their initial configuration (SDM Vol. 1 13.8.1); MXCSR loaded.
    expect(Array.from(fpu(m).xmm.subarray(12, 16))).toEqual([0, 0, 0, 0]);
    expect(Array.from(fpu(m).ymmHi.subarray(12, 16))).toEqual([0, 0, 0, 0]);
    expect(fpu(m).mxcsr).toBe(0x1f80);
  });

  test("XSAVE needs a 64-byte-aligned area (#GP) and CR4.OSXSAVE (#UD); XRSTOR refuses an XSTATE_BV bit XCR0 lacks (#GP)", () => {
    const mis = guest64(`${enable(true)}lea area+16(%rip), %rdi\nmov $3, %eax\nxor %edx, %edx\n.byte ${XSAVE_RDI}\nhlt${DATA}`);
    mis.run();
    expect(first(mis)).toEqual(["#GP"]);
    const off = guest64(`${enable()}lea area(%rip), %rdi\nmov $3, %eax\nxor %edx, %edx\n.byte ${XSAVE_RDI}\nhlt${DATA}`);
    off.run();
    expect(first(off)).toEqual(["#UD"]);
    const bv = guest64(`${enable(true)}lea area(%rip), %rdi\nmovq $4, 512(%rdi)\nmov $3, %eax\nxor %edx, %edx\n.byte ${XRSTOR_RDI}\nhlt${DATA}`);
    bv.run();
    expect(first(bv)).toEqual(["#GP"]); // XCR0 = 1 at reset: YMM's bit is not in it
  });
});

describe("AVX moves (issue 15)", () => {
  test("VEX instructions are #UD until XCR0 has SSE and YMM; VEX.256 loads all 256 bits, VEX.128 zeroes bits 255:128 (SDM Vol. 2 §2.3.10.1)", () => {
    const noYmm = guest64(`${enable(true)}${setXcr0(3)}lea src(%rip), %rbx\n.byte ${VMOVDQA_LOAD_YMM3}\nhlt${DATA}`);
    noYmm.run();
    expect(first(noYmm)).toEqual(["#UD"]);
    const m = guest64(`${enable(true)}${setXcr0(7)}lea src(%rip), %rbx\n.byte ${VMOVDQA_LOAD_YMM3}\nmov %rbx, %r12\nhlt${DATA}`);
    m.run();
    expect(exceptions(m)).toEqual([]);
    expect(Array.from(fpu(m).ymmHi.subarray(12, 16))).toEqual([0x89abcdef, 0x01234567, 0x76543210, 0xfedcba98]);
    const narrow = guest64(`${enable(true)}${setXcr0(7)}lea src(%rip), %rbx\n.byte ${VMOVDQA_LOAD_YMM3}\n.byte ${VMOVDQA_LOAD_XMM3}\nhlt${DATA}`);
    narrow.run();
    expect(Array.from(fpu(narrow).ymmHi.subarray(12, 16))).toEqual([0, 0, 0, 0]);
    expect(Array.from(fpu(narrow).xmm.subarray(12, 16))).toEqual([0x55667788, 0x11223344, 0xddeeff00, 0x99aabbcc]);
  });

  test("a legacy SSE write leaves bits 255:128; VZEROALL clears every YMM register", () => {
    const m = guest64(`${enable(true)}${setXcr0(7)}lea src(%rip), %rbx\n.byte ${VMOVDQA_LOAD_YMM3}\n.byte 0x66, 0x0f, 0xef, 0xdb\nhlt${DATA}`); // pxor %xmm3,%xmm3
    m.run();
    expect(Array.from(fpu(m).xmm.subarray(12, 16))).toEqual([0, 0, 0, 0]);
    expect(fpu(m).ymmHi[12]).toBe(0x89abcdef);
    const z = guest64(`${enable(true)}${setXcr0(7)}lea src(%rip), %rbx\n.byte ${VMOVDQA_LOAD_YMM3}\n.byte 0xc5, 0xfc, 0x77\nhlt${DATA}`);
    z.run();
    expect(fpu(z).ymmHi.every((w) => w === 0) && fpu(z).xmm.every((w) => w === 0)).toBe(true);
  });
});
