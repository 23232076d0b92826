// The local APIC and I/O APIC models against the SDM's rules (issue 16): timer modes, TPR/PPR,
// the ICR's delivery status, x2APIC under APICv, TSC-deadline, the I/O APIC's redirection.

import { describe, expect, test } from "vitest";
import { createX86Machine, type X86Machine } from "../../../../runtime/x86/machine.js";
import { LocalApic, type LapicHost } from "../../../../runtime/x86/apic/lapic.js";
import { IoApic } from "../../../../runtime/x86/apic/ioapic.js";
import { APIC_REGISTERS, apicOffset, timerDivisor, x2apicMsr } from "../../../../runtime/x86/apic/registers.js";

function bareApic(): { apic: LocalApic; clock: { t: number }; events: string[]; cr8: { v: number } } {
  const clock = { t: 0 }, events: string[] = [], cr8 = { v: 0 };
  const host: LapicHost = {
    now: () => clock.t, tscOffset: () => 0, cr8: { get: () => cr8.v, set: (v) => void (cr8.v = v) },
    emit: (name, f) => void events.push(`${name} ${JSON.stringify(f)}`),
  };
  return { apic: new LocalApic(0, host), clock, events, cr8 };
}
const O = apicOffset;

describe("local APIC registers (SDM Vol. 3 Table 11-1, 11-6)", () => {
  test("x2APIC MSR numbers are 0x800 + offset / 16: TPR 0x808, EOI 0x80b, ICR 0x830, SELF_IPI 0x83f", () => {
    expect(["TASKPRI", "EOI", "ICR", "SELF_IPI", "TMCCT"].map((n) => x2apicMsr(O(n)))).toEqual([0x808, 0x80b, 0x830, 0x83f, 0x839]);
    expect(APIC_REGISTERS.filter((r) => r.offset % 16 !== 0)).toEqual([]);
  });

  test("divide configuration: 0b1011 divides by 1, 0b0000 by 2, 0b1010 by 128 (Figure 11-10)", () => {
    expect([0xb, 0, 1, 2, 3, 8, 9, 0xa].map(timerDivisor)).toEqual([1, 2, 4, 8, 16, 32, 64, 128]);
  });

  test("PPR is the TPR or the class of the highest in-service vector; a vector must beat PPR's class", () => {
    const { apic, cr8 } = bareApic();
    apic.writeReg(O("SPIV"), 0x1ff);
    apic.acceptIrq(0x51);
    expect(apic.pendingVector()).toBe(0x51);
    cr8.v = 5; // TPR 0x50: class 5 is held back
    expect(apic.pendingVector()).toBe(-1);
    cr8.v = 0;
    apic.ackInterrupt(0x51);
    apic.acceptIrq(0x52);
    expect(apic.ppr()).toBe(0x50);
    expect(apic.pendingVector()).toBe(-1); // same class as the one in service
    apic.acceptIrq(0x61);
    expect(apic.pendingVector()).toBe(0x61);
    expect(apic.eoi()).toBe(0x51);
  });

  test("a software-disabled APIC drops fixed interrupts and masks its LVT entries", () => {
    const { apic } = bareApic();
    expect(apic.acceptIrq(0x40)).toBe(false);
    apic.writeReg(O("LVTT"), 0x30);
    expect(apic.readReg(O("LVTT")) & 0x1_0000).toBe(0x1_0000);
  });

  test("one-shot timer: TMCCT counts down at the bus clock / divisor and stops at 0; periodic re-arms", () => {
    const { apic, clock } = bareApic();
    apic.writeReg(O("SPIV"), 0x1ff);
    apic.writeReg(O("TDCR"), 0x0); // divide by 2
    apic.writeReg(O("LVTT"), 0x30);
    apic.writeReg(O("TMICT"), 1000);
    clock.t = 500;
    expect(apic.readReg(O("TMCCT"))).toBe(750);
    clock.t = 2000;
    expect(apic.timerDeadline).toBe(2000);
    apic.fireTimer();
    expect(apic.highestIrr()).toBe(0x30);
    expect(apic.timerDeadline).toBe(Infinity);
    expect(apic.readReg(O("TMCCT"))).toBe(0);
    apic.writeReg(O("LVTT"), 0x2_0031); // periodic: a mode change disarms
    apic.writeReg(O("TMICT"), 100);
    apic.fireTimer();
    expect(apic.timerDeadline).toBe(2000 + 400);
  });

  test("TSC-deadline: IA32_TSC_DEADLINE arms only in TSC-deadline mode; TMICT writes are ignored there", () => {
    const { apic, clock } = bareApic();
    apic.writeReg(O("SPIV"), 0x1ff);
    apic.setTscDeadline(5000n);
    expect(apic.timerDeadline).toBe(Infinity);
    apic.writeReg(O("LVTT"), 0x4_0032);
    apic.writeReg(O("TMICT"), 10);
    expect(apic.timerDeadline).toBe(Infinity);
    clock.t = 100;
    apic.setTscDeadline(5000n);
    expect(apic.timerDeadline).toBe(5000);
    apic.setTscDeadline(1n); // already passed: fires at once
    expect(apic.timerDeadline).toBe(100);
  });

  test("the ICR's delivery status reads idle: KVM delivers during the write; kvm_apic_ipi names the fields", () => {
    const { apic, events } = bareApic();
    apic.writeReg(O("SPIV"), 0x1ff);
    apic.writeReg(O("ICR"), 0x4_4041); // self, fixed, assert, vector 0x41
    expect(apic.readReg(O("ICR")) & 0x1000).toBe(0);
    expect(apic.highestIrr()).toBe(0x41);
    expect(events.some((e) => e.startsWith("kvm_apic_ipi"))).toBe(true);
    apic.writeReg(O("ICR"), 0x4_0400); // self NMI
    expect(apic.nmiPending).toBe(true);
  });
});

describe("I/O APIC (82093AA datasheet 3.2)", () => {
  test("version, masked entries at reset, edge delivery, level delivery held until the EOI", () => {
    const got: number[] = [];
    const io = new IoApic({ deliver: (v) => void got.push(v) });
    const reg = (r: number) => (io.write(0, 4, BigInt(r)), Number(io.read(0x10, 4)));
    expect(reg(1)).toBe(0x17_0011);
    expect(reg(0x10) & 0x1_0000).toBe(0x1_0000);
    io.setIrq(3, true);
    expect(got).toEqual([]); // masked
    io.write(0, 4, 0x16n);
    io.write(0x10, 4, 0x33n); // pin 3: vector 0x33, edge, unmasked
    io.setIrq(3, false);
    io.setIrq(3, true);
    expect(got).toEqual([0x33]);
    io.write(0, 4, 0x18n);
    io.write(0x10, 4, 0x8034n); // pin 4: level, vector 0x34
    io.setIrq(4, true);
    io.setIrq(4, true);
    expect(got).toEqual([0x33, 0x34]); // Remote IRR holds the second
    expect(reg(0x18) & 0x4000).toBe(0x4000);
    io.eoi(0x34); // the line is still high: delivered again
    expect(got).toEqual([0x33, 0x34, 0x34]);
  });

  test("the guest reaches it at 0xfec00000 through KVM's in-kernel MMIO (kvm_mmio, no KVM_EXIT_MMIO)", () => {
    const m = createX86Machine({ guest: { source: ".code32\nstart:\nmovl $1, 0xfec00000\nmov 0xfec00010, %eax\nhlt\n" }, settings: { stepLimit: 1000 } });
    m.run();
    expect(m.readRegister("eax")).toBe(0x17_0011n);
    expect(m.trace.lines("2015").filter((l) => l.startsWith("kvm_userspace_exit: reason KVM_EXIT_MMIO"))).toEqual([]);
  });
});

describe("x2APIC and APICv (SDM 29.5)", () => {
  const x2 = (apicv: boolean): X86Machine => {
    const src = `.code32\nstart:\nmov $0x1b, %ecx\nrdmsr\nor $0xc00, %eax\nwrmsr\nmov $0x80f, %ecx\nmov $0x1ff, %eax\nxor %edx, %edx\nwrmsr\n` +
      `mov $0x803, %ecx\nrdmsr\nmov %eax, %ebx\nmov $0x808, %ecx\nmov $0x20, %eax\nwrmsr\nmov $0x83f, %ecx\nmov $0x41, %eax\nwrmsr\nhlt\n`;
    const m = createX86Machine({ guest: { source: src }, settings: { stepLimit: 1000, apicv } });
    m.run();
    return m;
  };
  test("without APICv every x2APIC MSR access is an MSR exit; with it reads and TPR/SELF_IPI writes are not", () => {
    const off = x2(false), on = x2(true);
    const msr = (m: X86Machine) => m.exits.filter((e) => e.reason === "MSR_READ" || e.reason === "MSR_WRITE").length;
    expect(off.readRegister("ebx")).toBe(0x5_0014n);
    expect(on.readRegister("ebx")).toBe(0x5_0014n);
    expect(msr(off)).toBe(6); // APIC_BASE read+write, SVR, version read, TPR, SELF_IPI
    expect(msr(on)).toBe(3); // APIC_BASE read+write, SVR (not virtualized)
    expect(on.irq.lapic.highestIrr()).toBe(0x41);
    expect(on.vmcs.read32("SECONDARY_VM_EXEC_CONTROL") & 0x11).toBe(0x10); // x2APIC mode virtualized, APIC-access page off
  });
});

describe("x2APIC MSR faults as KVM today (SDM Vol. 3 11.12.1.2, Table 11-6; lapic.c kvm_lapic_readable_reg_mask, kvm_lapic_msr_write)", () => {
  /** x2APIC enabled and software-enabled, then one RDMSR or WRMSR; no IDT, so a #GP ends in a triple fault. */
  const access = (apicv: boolean, msr: number, write?: bigint): X86Machine => {
    const op = write === undefined
      ? `mov $${msr}, %ecx\nrdmsr\n`
      : `mov $${msr}, %ecx\nmov $${write & 0xffff_ffffn}, %eax\nmov $${write >> 32n}, %edx\nwrmsr\n`;
    const src = `.code32\nstart:\nmov $0x1b, %ecx\nrdmsr\nor $0xc00, %eax\nwrmsr\nmov $0x80f, %ecx\nmov $0x1ff, %eax\nxor %edx, %edx\nwrmsr\n${op}hlt\n`;
    const m = createX86Machine({ guest: { source: src }, settings: { stepLimit: 1000, apicv } });
    m.run();
    return m;
  };
  const faults = (m: X86Machine) => /triple fault/.test(m.halted?.message ?? "");
  const cases: [string, number, bigint?][] = [
    ["RDMSR of EOI (write-only)", 0x80b], ["RDMSR of SELF_IPI (write-only)", 0x83f], ["RDMSR of reserved 0x804", 0x804],
    ["RDMSR of ARBPRI (none in x2APIC mode)", 0x809], ["RDMSR of DFR (xAPIC only)", 0x80e], ["RDMSR of LVTCMCI (beyond the LVR's max LVT entry)", 0x82f],
    ["WRMSR of the read-only ID", 0x802, 0n], ["WRMSR of LDR", 0x80d, 0n], ["WRMSR of TPR with bit 32", 0x808, 1n << 32n],
    ["WRMSR of SELF_IPI bits 31:8", 0x83f, 0x100n], ["WRMSR of ESR with a nonzero value", 0x828, 1n],
  ];
  for (const apicv of [false, true]) {
    for (const [what, msr, value] of cases) {
      test(`${what} #GPs (apicv ${apicv ? "on" : "off"})`, () => expect(faults(access(apicv, msr, value))).toBe(true));
    }
    test(`the valid accesses do not fault (apicv ${apicv ? "on" : "off"}): version, PPR, TMCCT reads; TPR, EOI 0, SELF_IPI, ESR 0 writes`, () => {
      for (const msr of [0x803, 0x80a, 0x839]) expect(faults(access(apicv, msr)), hexMsr(msr)).toBe(false);
      for (const [msr, v] of [[0x808, 0x20n], [0x80b, 0n], [0x83f, 0x41n], [0x828, 0n]] as const) expect(faults(access(apicv, msr, v)), hexMsr(msr)).toBe(false);
    });
  }
  test("a nonzero EOI write: the processor's EOI virtualization #GPs (SDM 29.5); KVM's own handler retires the EOI (kvm_lapic_reg_write)", () => {
    expect(faults(access(true, 0x80b, 1n))).toBe(true);
    expect(faults(access(false, 0x80b, 1n))).toBe(false);
  });
  test("with APICv the MSR bitmap intercepts reads of write-only and reserved x2APIC MSRs (and TMCCT), not those of readable ones", () => {
    for (const [msr, exits] of [[0x80b, true], [0x804, true], [0x839, true], [0x803, false], [0x820, false]] as const) {
      const m = access(true, msr);
      expect(m.exits.filter((e) => e.reason === "MSR_READ").length > 1, hexMsr(msr)).toBe(exits); // the first MSR_READ is APIC_BASE
    }
  });
});

const hexMsr = (msr: number) => `MSR 0x${msr.toString(16)}`;

describe("LVT timer mode changes (lapic.c apic_update_lvtt)", () => {
  test("one-shot -> periodic keeps counting from where it was; into TSC-deadline stops the timer and clears TMICT", () => {
    const { apic, clock } = bareApic();
    apic.writeReg(O("SPIV"), 0x1ff);
    apic.writeReg(O("TDCR"), 0xb); // divide by 1
    apic.writeReg(O("LVTT"), 0x30); // one-shot
    apic.writeReg(O("TMICT"), 1000);
    clock.t = 600;
    apic.writeReg(O("LVTT"), 0x30 | (1 << 17)); // periodic
    expect(apic.readReg(O("TMCCT"))).toBe(400);
    clock.t = 1000;
    apic.fireTimer();
    expect(apic.readReg(O("TMCCT"))).toBe(1000); // re-armed with the full period
    apic.writeReg(O("LVTT"), 0x30 | (2 << 17)); // TSC-deadline
    expect(apic.readReg(O("TMCCT"))).toBe(0);
    expect(apic.readReg(O("TMICT"))).toBe(0);
    expect(apic.timerDeadline).toBe(Infinity);
  });
  test("v4.1 (2015) stops the timer on any mode change, one-shot -> periodic too", () => {
    const clock = { t: 0 };
    const apic = new LocalApic(0, { now: () => clock.t, tscOffset: () => 0, cr8: { get: () => 0, set: () => {} }, emit: () => {}, era: () => "2015" });
    apic.writeReg(O("SPIV"), 0x1ff);
    apic.writeReg(O("TDCR"), 0xb);
    apic.writeReg(O("LVTT"), 0x30);
    apic.writeReg(O("TMICT"), 1000);
    clock.t = 600;
    apic.writeReg(O("LVTT"), 0x30 | (1 << 17));
    expect(apic.readReg(O("TMCCT"))).toBe(0);
    expect(apic.timerDeadline).toBe(Infinity);
  });
});

describe("KVM_HC_SEND_IPI (lapic.c kvm_pv_send_ipi; since Linux 4.19)", () => {
  /** VMCALL 10 with RBX the low bitmap, RCX the high one, RDX min, RSI the ICR; RAX is the answer. */
  const call = (era: "2015" | "today", low: number, min: number, icr: number): X86Machine => {
    const src = `.code32\nstart:\nmovl $0x1ff, 0xfee000f0\nmov $10, %eax\nmov $${low}, %ebx\nxor %ecx, %ecx\nmov $${min}, %edx\nmov $${icr}, %esi\nvmcall\nhlt\n`;
    const m = createX86Machine({ guest: { source: src }, settings: { stepLimit: 1000, era, apicv: false } });
    m.run();
    return m;
  };
  test("today: bit 0 of the bitmap from APIC ID 0 delivers the ICR's vector to this vCPU; RAX counts it", () => {
    const m = call("today", 1, 0, 0x41);
    expect(m.readRegister("eax")).toBe(1n);
    expect(m.irq.lapic.highestIrr()).toBe(0x41);
  });
  test("today: a first APIC ID above the highest delivers nothing (kvm-unit-tests' PV IPI test: min 0xffffffff)", () => {
    const m = call("today", 0xffff_ffff, 0xffff_ffff, 0);
    expect(m.readRegister("eax")).toBe(0n);
  });
  test("today: an ICR with a shorthand is -KVM_EINVAL; 2015's v4.1 has no such hypercall: -KVM_ENOSYS", () => {
    expect(call("today", 1, 0, 0x4_0041).readRegister("rax")).toBe((-22n) & ((1n << 64n) - 1n));
    expect(call("2015", 1, 0, 0x41).readRegister("rax")).toBe((-1000n) & ((1n << 64n) - 1n));
  });
});
