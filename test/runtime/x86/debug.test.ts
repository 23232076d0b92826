// The debug registers and debug exceptions (runtime/x86/debug-regs.ts, debug-step.ts) on small
// 64-bit guests: values from Intel SDM Vol. 3 17.2-17.3 and Linux KVM's handle_dr/handle_exception.
// KVM intercepts #DB (exception bitmap), so every debug exception shows as an EXCEPTION_NMI exit
// whose qualification is the DR6 condition bits, then kvm_inj_exception puts it back.

import { describe, expect, test } from "vitest";
import { createX86Machine, type X86Machine } from "../../../runtime/x86/machine.js";
import { breakpointMatches, drTarget, drWriteValue, dr6AfterDebugException, DR7_RW } from "../../../runtime/x86/debug-regs.js";

const guest64 = (body: string): X86Machine => {
  const m = createX86Machine({ guest: { source: `start:\n${body}\n`, mode: 64 }, settings: { era: "today", stepLimit: 10_000 } });
  m.run();
  return m;
};
const injected = (m: X86Machine) => m.trace.lines("today").filter((l) => l.startsWith("kvm_inj_exception"));

describe("debug registers as data (SDM Vol. 3 17.2)", () => {
  test("DR4/DR5 alias DR6/DR7 with CR4.DE = 0 and are #UD with CR4.DE = 1", () => {
    expect([drTarget(4, false), drTarget(5, false), drTarget(4, true), drTarget(5, true), drTarget(3, true)]).toEqual([6, 7, "ud", "ud", 3]);
  });
  test("DR6/DR7 writes keep the fixed bits and refuse bits 63:32", () => {
    expect(drWriteValue(6, 0n)).toBe(0xffff0ff0n);
    expect(drWriteValue(6, 0x4001n)).toBe(0xffff4ff1n);
    expect(drWriteValue(7, 0n)).toBe(0x400n);
    expect(drWriteValue(7, 1n << 32n)).toBe("gp");
    expect(drWriteValue(0, 1n << 40n)).toBe(1n << 40n);
  });
  test("a #DB replaces B0-B3 and keeps BS (SDM 17.2.3)", () => {
    expect(dr6AfterDebugException(0xffff4ff1n, 0x4n)).toBe(0xffff4ff4n);
  });
  test("breakpoint matching honours R/W and LEN (aligned down)", () => {
    const dr = [0x1000n, 0x2004n, 0n, 0n, 0n, 0n, 0n, (3n << 0n) | (1n << 20n) | (3n << 22n) | (3n << 2n)];
    expect(breakpointMatches(dr, DR7_RW.EXECUTE, 0x1000n, 1)).toBe(1n);
    expect(breakpointMatches(dr, DR7_RW.WRITE, 0x2006n, 1)).toBe(2n);
    expect(breakpointMatches(dr, DR7_RW.READ_WRITE, 0x2006n, 1)).toBe(0n); // DR1 is write-only
    expect(breakpointMatches(dr, DR7_RW.WRITE, 0x2008n, 4)).toBe(0n);
  });
});

describe("MOV DR through KVM's handle_dr", () => {
  test("DR4 reads DR6 with CR4.DE = 0", () => {
    const m = guest64("mov $0x4001, %rax\nmov %rax, %dr6\nmov %dr4, %rbx\nhlt");
    expect(m.readRegister("rbx")).toBe(0xffff4ff1n);
  });
  test("DR4 with CR4.DE = 1 is #UD (kvm_require_dr)", () => {
    const m = guest64("mov %cr4, %rax\nor $8, %rax\nmov %rax, %cr4\nmov %dr4, %rbx\nhlt");
    expect(injected(m)[0]).toMatch(/^kvm_inj_exception: #UD/);
  });
  test("a DR7 value with bits 63:32 set is #GP", () => {
    const m = guest64("mov $1, %rax\nshl $32, %rax\nmov %rax, %dr7\nhlt");
    expect(injected(m)[0]).toMatch(/^kvm_inj_exception: #GP/);
  });
});

describe("debug exceptions", () => {
  const exits = (m: X86Machine) => m.trace.lines("today").filter((l) => l.startsWith("kvm_exit") && l.includes("EXCEPTION_NMI") && l.includes("intr_info 0x80000301"));
  const at = (l: string) => [/rip (0x[0-9a-f]+)/.exec(l)![1], /info1 0x0*([0-9a-f]+)/.exec(l)![1]];

  test("TF: the single-step #DB (DR6.BS) comes after the instruction following the POPF that set it", () => {
    // pushf (1) + orq (8) + popf (1): the first nop is at 0x40000a, its trap returns to 0x40000b.
    const m = guest64("pushf\norq $0x100, (%rsp)\npopf\nnop\nnop\nhlt");
    expect(exits(m).map(at)[0]).toEqual(["0x40000b", "4000"]);
    expect(injected(m)[0]).toMatch(/^kvm_inj_exception: #DB/);
  });
  test("an instruction breakpoint (DR0, R/W 00) is a fault at the instruction, B0 in the qualification", () => {
    const m = guest64("lea target(%rip), %rax\nmov %rax, %dr0\nmov $0x401, %rax\nmov %rax, %dr7\nnop\ntarget: nop\nhlt");
    const [rip, q] = at(exits(m)[0]!);
    expect(q).toBe("1");
    expect(m.trace.lines("today").some((l) => l.startsWith("kvm_exit") && l.includes(`rip ${rip}`))).toBe(true);
  });
  test("a data breakpoint (DR1, write, 4 bytes) traps after the store with B1", () => {
    const m = guest64("lea var(%rip), %rax\nmov %rax, %dr1\nmov $0x00d0040a, %rax\nmov %rax, %dr7\nmovl $1, var(%rip)\nnop\nhlt\n.align 8\nvar: .quad 0");
    expect(exits(m).map(at)[0]?.[1]).toBe("2");
  });
  test("MOV SS blocks the single-step trap of its own instruction", () => {
    const m = guest64("pushf\norq $0x100, (%rsp)\nmov %ss, %ax\npopf\nmov %ax, %ss\nnop\nhlt");
    // popf at 0x40000c (pushf 1, orq 8, mov 3): mov ss (2 bytes) traps nothing; the nop's trap returns to 0x400010.
    expect(exits(m).map(at)[0]).toEqual(["0x400010", "4000"]);
  });
});
