// A kvm-unit-tests-style x86-64 start-up, assembled by assembleX86 and run instruction by
// instruction through decodeX86/executeX86 against a fake machine: the operations a hypervisor
// would intercept must arrive in program order with the right registers.

import { describe, expect, it } from "vitest";
import { assembleX86, decodeX86, disassembleX86 } from "../../../../runtime/x86/isa/index.js";
import { FakeEnv } from "./fake-env.js";

const BOOT = `
# entered in 32-bit protected mode at 0x400000, as a multiboot loader leaves it
.code32
.globl start
start:
    mov $stacktop, %esp
    lgdt gdt64_desc
    mov %cr4, %eax
    or $0x20, %eax              /* CR4.PAE */
    mov %eax, %cr4
    mov $pml4, %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx       // EFER
    rdmsr
    or $0x100, %eax             # EFER.LME
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax        # PG | PE
    mov %eax, %cr0
    ljmp $8, $start64

.code64
start64:
    mov $0x10, %ax
    mov %ax, %ds
    lea message(%rip), %rsi
    mov $0x3f8, %dx
1:  lodsb
    test %al, %al
    jz 2f
    out %al, %dx
    jmp 1b
2:  movq $counter, %rbx
    incq (%rbx)
    mov (%rbx), %rax
    xor %ecx, %ecx
    cpuid
    mov $0, %al
    out %al, $0xf4
    hlt

.align 8
gdt64:
    .quad 0
    .quad 0x00af9b000000ffff     # 64-bit code
    .quad 0x00cf93000000ffff     # data
gdt64_end:
gdt64_desc:
    .word gdt64_end - gdt64 - 1
    .long gdt64
message:
    .asciz "hi\\n"
counter:
    .quad 41
.balign 4096
pml4:
    .fill 512, 8, 0
    .space 256
stacktop:
`;

describe("boot guest: assemble, decode, execute", () => {
  const prog = assembleX86(BOOT, { base: 0x400000n, bits: 32 });

  it("places symbols where GNU as would", () => {
    expect(prog.symbols.get("start")).toBe(0x400000n);
    expect(prog.symbols.get("pml4")! % 4096n).toBe(0n);
    expect(prog.symbols.get("stacktop")).toBe(prog.symbols.get("pml4")! + 4096n + 256n);
    expect(prog.symbols.get("gdt64")! % 8n).toBe(0n);
  });

  it("disassembles the start-up like objdump", () => {
    const texts: string[] = [];
    let off = 0;
    let mode: "protected32" | "long64" = "protected32";
    for (let n = 0; n < 16; n++) {
      const insn = decodeX86((i) => prog.bytes[off + i]!, mode);
      texts.push(disassembleX86(insn, 0x400000n + BigInt(off)));
      off += insn.length;
      if (insn.spec.mnemonic === "ljmp") mode = "long64";
    }
    expect(texts.slice(0, 15)).toEqual([
      `mov $0x${prog.symbols.get("stacktop")!.toString(16)},%esp`,
      `lgdtl 0x${prog.symbols.get("gdt64_desc")!.toString(16)}`,
      "mov %cr4,%eax",
      "or $0x20,%eax",
      "mov %eax,%cr4",
      `mov $0x${prog.symbols.get("pml4")!.toString(16)},%eax`,
      "mov %eax,%cr3",
      "mov $0xc0000080,%ecx",
      "rdmsr",
      "or $0x100,%eax",
      "wrmsr",
      "mov %cr0,%eax",
      "or $0x80000001,%eax",
      "mov %eax,%cr0",
      `ljmp $0x8,$0x${prog.symbols.get("start64")!.toString(16)}`,
    ]);
    expect(texts[15]).toBe("mov $0x10,%ax");
  });

  it("runs to hlt with the intercepted operations in order", () => {
    const env = new FakeEnv("protected32");
    env.load(0x400000n, prog.bytes);
    env.state.rip = 0x400000n;
    env.state.seg.cs.selector = 0x10;
    env.run(1000);
    expect(env.halted).toBe(true);
    const sys = env.calls.filter((c) => c[0] !== "read" && c[0] !== "write");
    const gdtDesc = prog.symbols.get("gdt64")!;
    expect(sys.slice(0, 11)).toEqual([
      ["loadDescriptorTable", "gdt", gdtDesc, 23],
      ["readCr", 4, 0],
      ["writeCr", 4, 0x20n, 0],
      ["writeCr", 3, prog.symbols.get("pml4")!, 0],
      ["rdmsr", 0xc0000080],
      ["wrmsr", 0xc0000080, 0x100n],
      ["readCr", 0, 0],
      ["writeCr", 0, 0x80000011n, 0],
      ["loadSegment", "cs", 8],
      ["loadSegment", "ds", 0x10],
      ["out", 0x3f8, 1, 0x68],
    ]);
    expect(env.ports.map((p) => p.value)).toEqual([0x68, 0x69, 0x0a, 0]);
    expect(env.ports[3]!.port).toBe(0xf4);
    expect(env.state.mode).toBe("long64");
    // incq on the counter, then cpuid overwrote rax/rbx/rcx/rdx
    expect(env.readBytes(prog.symbols.get("counter")!, 1)[0]).toBe(42);
    expect(env.calls.filter((c) => c[0] === "cpuid")).toEqual([["cpuid", 42, 0]]);
    expect(env.state.rip).toBe(0x400000n + BigInt(prog.lines.find((l) => l.text === "hlt")!.address - 0x400000n) + 1n);
  });
});
