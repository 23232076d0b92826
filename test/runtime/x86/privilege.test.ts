// Issue 15's x86 CPU fidelity: SMEP/SMAP (SDM Vol. 3 4.6.1), non-canonical linear addresses on the
// memory path (SDM Vol. 3 6.15: #GP(0), #SS(0) through SS), SYSCALL/SYSRET (SDM Vol. 2B), the
// single-step trap (SDM Vol. 3 17.3.1.4), KVM's VMMCALL patching (em_hypercall) and the VMM's CPUID
// vendor. kvm-unit-tests' smap, lam, syscall and hypercall entries test the same through real guests.

import { describe, expect, test } from "vitest";
import { GuestMemory } from "../../../runtime/core/memory.js";
import { translate } from "../../../runtime/x86/paging.js";
import { multibootState, CR0, CR4, EFER, GuestFault } from "../../../runtime/x86/state.js";
import { createX86Machine, type X86Machine } from "../../../runtime/x86/machine.js";
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

const guest64 = (body: string, opts: { vendor?: string } = {}): X86Machine =>
  createX86Machine({ guest: { source: `start:\n${body}\n`, mode: 64 }, settings: { era: "today", stepLimit: 10_000 }, ...(opts.vendor ? { cpuVendor: opts.vendor } : {}) });

/** Runs until the guest takes exception `vector` (intercepted) or stops; that exception's error code (-1: none), or null. */
function exceptionCode(m: X86Machine, vector: number): number | null {
  m.setTrap({ kind: "exception", arg: vector }, true);
  m.run({ stopOnExit: (e) => e.reason === "EXCEPTION_NMI" && (Number(m.vmcs.read("VM_EXIT_INTR_INFO")) & 0xff) === vector });
  const info = Number(m.vmcs.read("VM_EXIT_INTR_INFO"));
  if (m.exits.at(-1)?.reason !== "EXCEPTION_NMI" || (info & 0xff) !== vector) return null;
  return (info >> 11) & 1 ? Number(m.vmcs.read("VM_EXIT_INTR_ERROR_CODE")) : -1;
}

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

const wrmsr = (msr: number, value: string) => `mov $${msr}, %ecx\nmov ${value}, %rax\nmov %rax, %rdx\nshr $32, %rdx\nwrmsr\n`;

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
