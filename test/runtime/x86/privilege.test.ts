// Issue 15's x86 CPU fidelity: SMEP/SMAP (SDM Vol. 3 4.6.1), non-canonical linear addresses on the
// memory path (SDM Vol. 3 6.15: #GP(0), #SS(0) through SS), SYSCALL/SYSRET (SDM Vol. 2B), the
// single-step trap (SDM Vol. 3 17.3.1.4), KVM's VMMCALL patching (em_hypercall) and the VMM's CPUID
// vendor. kvm-unit-tests' smap, lam, syscall and hypercall entries test the same through real guests.

import { describe, expect, test } from "vitest";
import { GuestMemory } from "../../../runtime/core/memory.js";
import { translate } from "../../../runtime/x86/paging.js";
import { multibootState, CR0, CR4, EFER, GuestFault } from "../../../runtime/x86/state.js";
import { createX86Machine, type X86Machine } from "../../../runtime/x86/machine.js";
import { exceptionCode, guest64, wrmsr } from "./guest64.js";
import { checkCpuVendor, cpuidHas, vendorRegisters } from "../../../runtime/x86/kvm/cpuid.js";
import { cpuVendorOf } from "../../../bin/kut/runner.js";

/** A 4-level map of linear 0x5000 → 0x9000 with a user-mode (U=1) writable PTE; returns the state and reader. */
function userPage() {
  const mem = new GuestMemory();
  mem.addRegion({ name: "ram", base: 0, size: 1 << 20 });
  mem.write(0x1000, 8, 0x2000n | 7n);
  mem.write(0x2000, 8, 0x3000n | 7n);
  mem.write(0x3000, 8, 0x4000n | 7n);
  mem.write(0x4000 + 5 * 8, 8, 0x9000n | 7n);
  const s = multibootState(0n);
  s.cr0 |= CR0.PG | CR0.WP;
  s.cr4 |= CR4.PAE;
  s.efer |= EFER.LME | EFER.LMA;
  s.cr3 = 0x1000n;
  return { s, reader: (gpa: number, size: 4 | 8) => mem.read(gpa, size) };
}

/** The #PF error code the access raises, or null when it translates. */
function pf(f: () => unknown): number | null {
  try {
    f();
    return null;
  } catch (e) {
    if (e instanceof GuestFault && e.vector === 14) return e.errorCode!;
    throw e;
  }
}

const SUP_READ = { write: false, fetch: false, user: false };
const SUP_WRITE = { write: true, fetch: false, user: false };
const SUP_FETCH = { write: false, fetch: true, user: false };
const AC = 1n << 18n;

describe("SMEP and SMAP (SDM Vol. 3 4.6.1)", () => {
  test("without CR4.SMEP/SMAP a supervisor access to a user page is allowed", () => {
    const { s, reader } = userPage();
    for (const a of [SUP_READ, SUP_WRITE, SUP_FETCH]) expect(pf(() => translate(s, 0x5000n, a, reader))).toBeNull();
  });

  test("SMAP: explicit supervisor data accesses fault unless EFLAGS.AC = 1; implicit ones fault whatever AC is", () => {
    const { s, reader } = userPage();
    s.cr4 |= CR4.SMAP;
    expect(pf(() => translate(s, 0x5000n, SUP_READ, reader))).toBe(0x1); // P, read, supervisor
    expect(pf(() => translate(s, 0x5000n, SUP_WRITE, reader))).toBe(0x3); // P, write
    expect(pf(() => translate(s, 0x5000n, SUP_FETCH, reader))).toBeNull(); // fetches are SMEP's
    s.rflags |= AC;
    expect(pf(() => translate(s, 0x5000n, SUP_READ, reader))).toBeNull();
    expect(pf(() => translate(s, 0x5000n, SUP_WRITE, reader))).toBeNull();
    expect(pf(() => translate(s, 0x5000n, { ...SUP_READ, implicit: true }, reader))).toBe(0x1);
    // A user-mode access is not affected.
    s.rflags &= ~AC;
    expect(pf(() => translate(s, 0x5000n, { write: true, fetch: false, user: true }, reader))).toBeNull();
  });

  test("SMEP: a supervisor fetch from a user page faults with I/D set; data accesses are allowed", () => {
    const { s, reader } = userPage();
    s.cr4 |= CR4.SMEP;
    expect(pf(() => translate(s, 0x5000n, SUP_FETCH, reader))).toBe(0x11);
    expect(pf(() => translate(s, 0x5000n, SUP_READ, reader))).toBeNull();
  });

  test("advertised: SMEP in both eras (Haswell has it), SMAP only today (Broadwell and later)", () => {
    expect([cpuidHas("2015", "SMEP"), cpuidHas("today", "SMEP")]).toEqual([true, true]);
    expect([cpuidHas("2015", "SMAP"), cpuidHas("today", "SMAP")]).toEqual([false, true]);
  });
});

describe("non-canonical linear addresses (SDM Vol. 3 6.15)", () => {
  test("a data access is #GP(0) even right after the canonical twin filled the TLB", () => {
    const m = guest64("lea buf(%rip), %rax\nmov (%rax), %rbx\nbts $62, %rax\nmov (%rax), %rbx\nhlt\n.align 8\nbuf: .quad 1");
    expect(exceptionCode(m, 13)).toBe(0);
    expect(m.readRegister("rbx")).toBe(1n);
  });

  test("through SS (a push on a non-canonical RSP) it is #SS(0)", () => {
    const m = guest64("push %rax\npop %rax\nbts $62, %rsp\npush %rax\nhlt");
    expect(exceptionCode(m, 12)).toBe(0);
  });
});


describe("SYSCALL and SYSRET (SDM Vol. 2B)", () => {
  test("SYSCALL is #UD until EFER.SCE is set", () => {
    expect(exceptionCode(guest64("syscall\nhlt"), 6)).toBe(-1);
  });

  test("SYSCALL: RCX, R11 and RFLAGS masked by FMASK, CS/SS from STAR[47:32], RIP from LSTAR", () => {
    const m = guest64(
      wrmsr(0xc000_0080, "$0xd01") + // EFER: SCE, LME, LMA, NXE
        wrmsr(0xc000_0081, "$0x0023001000000000") + // STAR: kernel CS 0x10, user base 0x23
        "lea target(%rip), %rax\n" + wrmsr(0xc000_0082, "%rax") +
        wrmsr(0xc000_0084, "$0x200") + // FMASK: IF
        "sti\nsyscall\nback: hlt\ntarget: hlt",
    );
    m.run();
    const s = m.cpu.state;
    expect(s.seg.cs.selector).toBe(0x10);
    expect(s.seg.ss.selector).toBe(0x18);
    expect(Number(s.rflags & 0x200n)).toBe(0); // IF masked
    expect(Number(s.gpr[11]! & 0x200n)).toBe(0x200); // R11: RFLAGS before
    expect(s.gpr[1]! + 1n).toBe(s.rip); // RCX = the address of `back`; rip is past target's hlt
  });

  test("SYSRETQ returns at CPL 3: CS = STAR[63:48] + 16 | 3, and the supervisor-only code page faults the fetch (U/S in the error code)", () => {
    const m = guest64(
      wrmsr(0xc000_0080, "$0xd01") + wrmsr(0xc000_0081, "$0x0023001000000000") + "lea user(%rip), %rcx\nmov $2, %r11\nsysretq\nuser: hlt",
    );
    expect(exceptionCode(m, 14)).toBe(0x15); // P | U/S | I/D
    expect(m.cpu.state.seg.cs.selector).toBe(0x33);
    expect(m.cpu.state.seg.ss.selector).toBe(0x2b);
  });
});

describe("the single-step trap (RFLAGS.TF)", () => {
  test("#DB after the instruction following the POPF that set TF (none after POPF itself), DR6.BS set", () => {
    const m = guest64("pushf\norl $0x100, (%rsp)\npopf\nfirst: nop\nsecond: nop\nhlt");
    const start = m.cpu.state.rip;
    expect(exceptionCode(m, 1)).toBe(-1);
    // pushf (1 byte), orl $0x100,(%rsp) (7), popf (1), nop (1): the trap returns to `second`.
    expect(m.vmcs.read("GUEST_RIP")).toBe(start + 10n);
    // A #DB that exits leaves DR6 alone; the exit qualification carries BS (SDM Vol. 3 27.1, Table 28-1).
    expect(m.vmcs.read("EXIT_QUALIFICATION") & (1n << 14n)).toBe(1n << 14n);
  });
});

describe("VMMCALL on an Intel host (KVM's em_hypercall)", () => {
  test("the #UD intercept patches it to VMCALL in guest memory, and the guest's retry is a VMCALL exit", () => {
    const m = guest64("call: vmmcall\nhlt");
    m.run({ stopOnExit: (e) => e.reason === "VMCALL" });
    expect(m.exits.map((e) => e.reason)).toContain("EXCEPTION_NMI");
    expect(m.exits.at(-1)!.reason).toBe("VMCALL");
    const rip = Number(m.vmcs.read("GUEST_RIP"));
    expect([0, 1, 2].map((i) => m.memory.readByte(rip + i))).toEqual([0x0f, 0x01, 0xc1]);
  });
});

describe("the VMM's CPUID vendor (QEMU's -cpu ...,vendor=)", () => {
  test("the runner takes it from the entry's -cpu option; the machine checks it and CPUID leaf 0 says it", () => {
    expect(cpuVendorOf("-cpu Opteron_G1,vendor=AuthenticAMD")).toBe("AuthenticAMD");
    expect(cpuVendorOf("-cpu max")).toBeUndefined();
    expect(() => checkCpuVendor("AMD")).toThrow(/12 ASCII characters/);
    expect(checkCpuVendor("GenuineIntel")).toBeUndefined();
    const m = guest64("xor %eax, %eax\ncpuid\nhlt", { vendor: "AuthenticAMD" });
    m.run();
    const v = vendorRegisters("AuthenticAMD");
    expect([m.readRegister("ebx"), m.readRegister("edx"), m.readRegister("ecx")].map(Number)).toEqual([v.ebx, v.edx, v.ecx]);
  });
});

// A 64-bit kernel's user-mode set-up: a GDT with user segments (0x1b data, 0x23 code) and a TSS
// (0x28) whose RSP0 is 0x601000, in 2 MiB page 3 (0x600000), left supervisor-only; gate 0x80 an
// interrupt gate of DPL 3, gate 0x81 of DPL 0, both to `handler` (HLT at CPL 0); this code's and
// the boot stack's 2 MiB pages made user-accessible; then IRETQ to `user` at CPL 3.
function userModeGuest(userCode: string, jit: boolean, beforeIret = ""): X86Machine {
  const gate = (vector: number, dpl: number) =>
    "lea handler(%rip), %rax\nmov %rax, %rdx\nand $0xffff, %rdx\nor $0x80000, %rdx\nmov %rax, %rcx\nshr $16, %rcx\nshl $48, %rcx\nor %rcx, %rdx\n" +
    `mov $0x${(0x8e + dpl * 0x20).toString(16)}0000000000, %rcx\nor %rcx, %rdx\nmov %rdx, idt+${vector * 16}(%rip)\nshr $32, %rax\nmov %rax, idt+${vector * 16 + 8}(%rip)\n`;
  const body =
    "movq 0x600ff8, %rax\nlgdt gdtr(%rip)\nlidt idtr(%rip)\n" +
    // The TSS descriptor (SDM Vol. 3 Figure 8-4): limit 0x67, type 9 (available 64-bit TSS), present.
    "lea tss(%rip), %rax\nmov %rax, %rdx\nshl $16, %rdx\nmov $0xffffff0000, %rcx\nand %rcx, %rdx\nmov %rax, %rcx\nshr $24, %rcx\nshl $56, %rcx\nor %rcx, %rdx\n" +
    "mov $0x0000890000000067, %rcx\nor %rcx, %rdx\nmov %rdx, gdt+40(%rip)\nshr $32, %rax\nmov %rax, gdt+48(%rip)\nmov $0x28, %ax\nltr %ax\n" +
    gate(0x80, 3) + gate(0x81, 0) +
    "mov %cr3, %rbx\nand $~0xfff, %rbx\norq $4, (%rbx)\nmov (%rbx), %rbx\nand $~0xfff, %rbx\norq $4, (%rbx)\nmov (%rbx), %rbx\nand $~0xfff, %rbx\n" +
    "orq $4, 16(%rbx)\norq $4, 504(%rbx)\nmov %cr3, %rax\nmov %rax, %cr3\n" +
    beforeIret + "mov %rsp, %rax\npush $0x1b\npush %rax\npushf\npush $0x23\nlea user(%rip), %rax\npush %rax\niretq\n" +
    `user: ${userCode}\nud2\nhandler: hlt\n` +
    ".align 16\ngdt: .quad 0, 0x00af9b000000ffff, 0x00cf93000000ffff, 0x00cff3000000ffff, 0x00affb000000ffff, 0, 0\ngdtr: .word 55\n.quad gdt\n" +
    ".align 16\ntss: .long 0\n.quad 0x601000\n.fill 88, 1, 0\nidtr: .word 4095\n.quad idt\n.align 4096\nidt: .fill 4096, 1, 0";
  return createX86Machine({ guest: { source: `start:\n${body}\n`, mode: 64 }, settings: { era: "today", stepLimit: 100_000, jit } });
}

describe("delivery from CPL 3 (SDM Vol. 3 6.12.1.1, 6.14.4)", () => {
  for (const jit of [true, false]) {
    test(`INT n through a DPL-3 gate switches to the TSS's RSP0 stack, a supervisor-only page, and pushes the 64-bit frame there (jit ${jit ? "on" : "off"})`, () => {
      const m = userModeGuest("int $0x80", jit);
      m.setTrap({ kind: "exception", arg: 14 }, true);
      m.run({ stopOnExit: (e) => e.reason === "EXCEPTION_NMI" || e.reason === "HLT" });
      expect(m.exits.at(-1)?.reason).toBe("HLT");
      const s = m.cpu.state;
      expect(s.seg.cs.selector).toBe(0x08);
      expect(s.seg.ss.selector).toBe(0); // a null SS with RPL = the new CPL
      expect(s.gpr[4]).toBe(0x601000n - 40n);
      const q = (a: number) => m.memory.read(a, 8);
      // From the bottom of the frame up: RIP (the UD2 after INT), CS, RFLAGS (bit 1 set), RSP, SS.
      const rip = Number(q(0x601000 - 40));
      expect([m.memory.readByte(rip), m.memory.readByte(rip + 1)]).toEqual([0x0f, 0x0b]);
      expect(q(0x601000 - 32)).toBe(0x23n);
      expect(q(0x601000 - 24) & 2n).toBe(2n);
      expect(q(0x601000 - 16)).toBe(0x7ff8000n);
      expect(q(0x601000 - 8)).toBe(0x1bn);
    });

    test(`IRETQ to CPL 3 nulls ES/DS/FS/GS holding DPL-0 data (base kept), not a DPL-3 one (jit ${jit ? "on" : "off"})`, () => {
      // ES a user data segment, DS/FS/GS the kernel's (0x10), GS's base set through IA32_GS_BASE.
      const setup = "mov $0x1b, %ax\nmov %ax, %es\nmov $0xc0000101, %ecx\nmov $0x345000, %eax\nxor %edx, %edx\nwrmsr\n";
      const m = userModeGuest("hlt", jit, setup); // HLT at CPL 3: #GP(0)
      expect(exceptionCode(m, 13)).toBe(0);
      const seg = m.cpu.state.seg;
      expect(seg.cs.selector).toBe(0x23);
      expect(seg.es.selector).toBe(0x1b);
      expect([seg.ds.selector, seg.fs.selector, seg.gs.selector]).toEqual([0, 0, 0]);
      expect([seg.ds, seg.fs, seg.gs].map((x) => (x.attributes >> 16) & 1)).toEqual([1, 1, 1]);
      expect(seg.gs.base).toBe(0x345000n);
    });

    test(`INT n through a DPL-0 gate from CPL 3 is #GP(vector × 8 + 2) (jit ${jit ? "on" : "off"})`, () => {
      expect(exceptionCode(userModeGuest("int $0x81", jit), 13)).toBe(0x81 * 8 + 2);
    });
  }
});
