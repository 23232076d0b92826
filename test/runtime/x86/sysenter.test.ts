// SYSENTER and SYSEXIT (Intel SDM Vol. 2B) in a 64-bit guest: IA32_SYSENTER_CS/ESP/EIP written by
// the guest (passed through by KVM: msrs.ts), the flat descriptors both load, the #GP cases.

import { describe, expect, test } from "vitest";
import { exceptionCode, guest64, wrmsr } from "./guest64.js";

const SETUP = wrmsr(0x174, "$0x10") + wrmsr(0x175, "$0x123456789a0") + "lea target(%rip), %rax\n" + wrmsr(0x176, "%rax");

describe("SYSENTER and SYSEXIT (SDM Vol. 2B)", () => {
  test("SYSENTER with IA32_SYSENTER_CS[15:2] = 0 is #GP(0)", () => {
    expect(exceptionCode(guest64("sysenter\nhlt"), 13)).toBe(0);
  });

  test("SYSENTER in IA-32e mode: 64-bit CS from IA32_SYSENTER_CS, SS = CS + 8, RSP and RIP from the MSRs, IF/RF cleared; RDMSR reads them back", () => {
    const m = guest64(SETUP + "sti\nsysenter\nhlt\ntarget: mov $0x175, %ecx\nrdmsr\nhlt");
    m.run();
    const s = m.cpu.state;
    expect([s.seg.cs.selector, s.seg.ss.selector]).toEqual([0x10, 0x18]);
    expect(s.mode).toBe("long64");
    expect(Number(s.rflags & 0x10200n)).toBe(0);
    expect(s.gpr[4]).toBe(0x123456789a0n);
    expect([s.gpr[2], s.gpr[0]]).toEqual([0x123n, 0x456789a0n]);
  });

  test("SYSEXITQ: CPL 3 with CS = SYSENTER_CS + 32 | 3, SS = CS + 8, RSP = RCX, RIP = RDX (a supervisor page: the fetch faults, P | U/S; no I/D without EFER.NXE)", () => {
    const m = guest64(SETUP + "mov $0x5000, %rcx\nlea user(%rip), %rdx\nsysexitq\nuser: hlt\ntarget: hlt");
    expect(exceptionCode(m, 14)).toBe(0x5);
    expect([m.cpu.state.seg.cs.selector, m.cpu.state.seg.ss.selector]).toEqual([0x33, 0x3b]);
    expect(m.cpu.state.gpr[4]).toBe(0x5000n);
  });

  test("SYSEXIT (32-bit operand size) returns to compatibility mode with CS = SYSENTER_CS + 16 | 3", () => {
    const m = guest64(SETUP + "mov $0x5000, %rcx\nlea user(%rip), %rdx\nsysexit\nuser: hlt\ntarget: hlt");
    expect(exceptionCode(m, 14)).toBe(0x5);
    expect(m.cpu.state.seg.cs.selector).toBe(0x23);
    expect(m.cpu.state.mode).not.toBe("long64");
  });

  test("SYSEXITQ to a non-canonical RDX is #GP(0), before any state changes", () => {
    const m = guest64(SETUP + "mov $0x5000, %rcx\nmov $1, %rdx\nshl $60, %rdx\nsysexitq\nhlt\ntarget: hlt");
    expect(exceptionCode(m, 13)).toBe(0);
    expect(m.cpu.state.seg.cs.selector & 3).toBe(0);
  });
});
