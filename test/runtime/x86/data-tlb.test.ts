// The CPU's fast translation caches (runtime/x86/cpu.ts) against what the architecture says a
// guest sees (SDM Vol. 3 4.6 access rights, 4.10.4 invalidation):
// - the data TLB keeps one bank per privilege (supervisor, user), swapped when CS moves between
//   them (a descriptor load, or SYSCALL/SYSRET): an entry a supervisor access made never serves a user-mode access;
// - SMEP governs supervisor fetches and SMAP supervisor data accesses, separately: with SMEP on, a
//   supervisor read of a user page is allowed (and cached) while a fetch from it faults;
// - INVLPG of a data page drops that page's entries (the others stay, as the TLB's do), and
//   INVLPG of a page code was fetched from drops the code's translation too.
// Each runs with compiled blocks (jit on) and on the interpreter (jit off).

import { describe, expect, test } from "vitest";
import { createX86Machine, type X86Machine } from "../../../runtime/x86/machine.js";
import { wrmsr } from "./guest64.js";

const guest64 = (body: string, jit: boolean): X86Machine =>
  createX86Machine({ guest: { source: `start:\n${body}\n`, mode: 64 }, settings: { era: "today", stepLimit: 100_000, jit } });

/** Runs until the guest takes #PF (intercepted) or stops; its error code, or null when none came. */
function pageFault(m: X86Machine): number | null {
  m.setTrap({ kind: "exception", arg: 14 }, true);
  m.run({ stopOnExit: (e) => e.reason === "EXCEPTION_NMI" });
  const info = Number(m.vmcs.read("VM_EXIT_INTR_INFO"));
  if (m.exits.at(-1)?.reason !== "EXCEPTION_NMI" || (info & 0xff) !== 14) return null;
  return Number(m.vmcs.read("VM_EXIT_INTR_ERROR_CODE"));
}

// The 64-bit loader's identity map: PML4[0] → PDPT[0] → PD, 2 MiB pages, supervisor-only; the
// code at 0x400000 (PD[2]), the stack and loader tables at the top of RAM (PD[63]).
const PD_TO_RBX = "mov %cr3, %rbx\nand $~0xfff, %rbx\nmov (%rbx), %rbx\nand $~0xfff, %rbx\nmov (%rbx), %rbx\nand $~0xfff, %rbx\n";
const USER_UPPER = "mov %cr3, %rbx\nand $~0xfff, %rbx\norq $4, (%rbx)\nmov (%rbx), %rbx\nand $~0xfff, %rbx\norq $4, (%rbx)\nmov (%rbx), %rbx\nand $~0xfff, %rbx\n";
const FLUSH = "mov %cr3, %rax\nmov %rax, %cr3\n";
// A page table at 0x700000 mapping 0x800000-0x9fffff with 4 KiB pages (P | RW), put in PD[4].
const PT_AT_0x800000 =
  "mov $0x700000, %rdi\nmov $0x800003, %rax\nmov $512, %ecx\n1: mov %rax, (%rdi)\nadd $8, %rdi\nadd $0x1000, %rax\ndec %ecx\njnz 1b\n" +
  PD_TO_RBX + "movq $0x700003, 32(%rbx)\n" + FLUSH;

// This code's and the stack's 2 MiB pages made user-accessible, then 0x600000 (left supervisor-only)
// read three times at CPL 0, into the data TLB. (The stack and 0x600000 are touched first: EPT maps
// a page at its first access, and the exit that takes drops every cached translation.)
const SUPERVISOR_PAGE_CACHED =
  "push %rax\npop %rax\nmovq 0x600000, %rax\n" + USER_UPPER + "orq $4, 16(%rbx)\norq $4, 504(%rbx)\n" + FLUSH +
  "mov $3, %ecx\n2: movq 0x600000, %rdx\ndec %ecx\njnz 2b\n";

for (const jit of [true, false]) {
  describe(`fast translation caches (jit ${jit ? "on" : "off"})`, () => {
    test("a supervisor-only page read at CPL 0 faults at CPL 3 after IRETQ (P | U/S: error code 5)", () => {
      const m = guest64(
        "lgdt gdtr(%rip)\n" + SUPERVISOR_PAGE_CACHED +
          "mov %rsp, %rax\npush $0x1b\npush %rax\npushf\npush $0x23\nlea user(%rip), %rax\npush %rax\niretq\n" +
          "user: movq 0x600000, %rsi\nhlt\n" +
          ".align 8\ngdt: .quad 0, 0x00af9b000000ffff, 0x00cf93000000ffff, 0x00cff3000000ffff, 0x00affb000000ffff\ngdtr: .word 39\n.quad gdt",
        jit,
      );
      expect(pageFault(m)).toBe(5);
      expect(m.cpu.state.seg.cs.selector).toBe(0x23);
    });

    test("the same after SYSRETQ (CS and SS replaced without a descriptor load)", () => {
      const m = guest64(
        wrmsr(0xc000_0080, "$0xd01") + wrmsr(0xc000_0081, "$0x0023001000000000") + // EFER.SCE; STAR: user CS 0x33, SS 0x2b
          SUPERVISOR_PAGE_CACHED + "lea user(%rip), %rcx\nmov $2, %r11\nsysretq\nuser: movq 0x600000, %rsi\nhlt",
        jit,
      );
      expect(pageFault(m)).toBe(5);
      expect(m.cpu.state.seg.cs.selector).toBe(0x33);
    });

    test("with SMEP a supervisor read of a user page succeeds, and a fetch from it faults (P | I/D: 0x11)", () => {
      const m = guest64(
        USER_UPPER + "orq $4, 24(%rbx)\n" + FLUSH + // 0x600000's 2 MiB page user-accessible
          "movb $0xc3, 0x600000\nmov %cr4, %rax\nor $0x100000, %rax\nmov %rax, %cr4\n" + // ret; CR4.SMEP
          "mov $3, %ecx\n2: movzbl 0x600000, %edx\ndec %ecx\njnz 2b\n" +
          "mov $0x600000, %rax\ncall *%rax\nhlt",
        jit,
      );
      expect(pageFault(m)).toBe(0x11);
      expect(m.readRegister("edx")).toBe(0xc3n);
    });

    test("INVLPG of a remapped 4 KiB data page: the new mapping there, the old one kept elsewhere", () => {
      const m = guest64(
        "movq $0x1111, 0x801000\nmovq $0x2222, 0x802000\nmovq $0x3333, 0x803000\n" + PT_AT_0x800000 +
          "mov $3, %ecx\n2: movq 0x801000, %rdx\nmovq 0x802000, %rsi\ndec %ecx\njnz 2b\n" +
          "movq $0x803003, 0x700008\ninvlpg 0x801000\n" + // PT[1] → 0x803000
          "movq 0x801000, %rdx\nmovq 0x802000, %rsi\nhlt",
        jit,
      );
      m.run();
      expect(m.readRegister("rdx")).toBe(0x3333n);
      expect(m.readRegister("rsi")).toBe(0x2222n);
    });

    test("INVLPG of a remapped 4 KiB code page: the next call runs the new page's code", () => {
      const m = guest64(
        // mov $1, %eax; ret at 0x801000 and mov $2, %eax; ret at 0x803000
        "movl $0x1b8, 0x801000\nmovw $0xc300, 0x801004\nmovl $0x2b8, 0x803000\nmovw $0xc300, 0x803004\n" + PT_AT_0x800000 +
          "mov $0x801000, %rbx\nxor %edi, %edi\nmov $3, %ecx\n2: call *%rbx\nadd %eax, %edi\ndec %ecx\njnz 2b\n" +
          "movq $0x803003, 0x700008\ninvlpg 0x801000\ncall *%rbx\nhlt",
        jit,
      );
      m.run();
      expect(m.readRegister("edi")).toBe(3n);
      expect(m.readRegister("eax")).toBe(2n);
    });
  });
}
