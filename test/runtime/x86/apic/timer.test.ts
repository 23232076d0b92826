// A timer-driven guest (exitlab x86 assembly): the local APIC timer armed in periodic mode, HLT,
// the interrupt through the guest's IDT, the handler's EOI — and what APICv removes from the trace.

import { describe, expect, test } from "vitest";
import { createX86Machine, type X86Machine } from "../../../../runtime/x86/machine.js";
import { readX86Fixture, withFixtures } from "../fixtures/index.js";

const SRC = readX86Fixture("apic/timer-guest.s");
const boot = (apicv?: boolean, era: "2015" | "today" = "2015"): X86Machine =>
  createX86Machine({ guest: { source: SRC }, settings: { stepLimit: 100_000, era, ...(apicv === undefined ? {} : { apicv }) } });
const count = (m: X86Machine, reason: string) => m.exits.filter((e) => e.reason === reason).length;
const ticks = (m: X86Machine) => Number(m.readPhysical(Number(m.symbols.get("ticks")), 4)[0]);

describe("the local APIC timer wakes a halted vCPU (issue 16)", () => {
  test("apicv off: five ticks, each an HLT exit, KVM's injection and an APIC_ACCESS exit for the EOI", () => {
    const m = boot(false);
    const r = m.run();
    expect(r.message).toMatch(/HLT with interrupts disabled/); // the guest's final cli; hlt
    expect(ticks(m)).toBe(5);
    const lines = m.trace.lines("2015");
    expect(lines.filter((l) => l === "kvm_inj_virq: irq 48")).toHaveLength(5);
    expect(lines.filter((l) => l === "kvm_eoi: apicid 0 vector 48")).toHaveLength(5);
    expect(lines).toContain("kvm_apic: apic_write APIC_LVTT = 0x20030");
    expect(lines).toContain("kvm_apic_accept_irq: apicid 0 vec 48 (Fixed|edge)");
    // 4 set-up writes + 5 EOIs + 2 LVTT writes at the end.
    expect(count(m, "APIC_ACCESS")).toBe(11);
    expect(lines.filter((l) => l === "kvm_exit: reason APIC_ACCESS rip 0x400062 info 10b0 0")).toHaveLength(5);
    expect(count(m, "HLT")).toBe(6);
  });

  test("apicv on: the EOIs and the injections leave the trace; writes of the timer's registers are APIC_WRITE exits", () => {
    const m = boot(true);
    m.run();
    expect(ticks(m)).toBe(5);
    const lines = m.trace.lines("2015");
    expect(count(m, "APIC_ACCESS")).toBe(0);
    expect(count(m, "APIC_WRITE")).toBe(6);
    expect(lines.filter((l) => l.startsWith("kvm_inj_virq"))).toEqual([]);
    expect(lines.filter((l) => l.startsWith("kvm_eoi"))).toEqual([]);
    const off = boot(false);
    off.run();
    expect(m.exits.length).toBeLessThan(off.exits.length);
  });

  test("the era decides APICv unless set: off with 2015's KVM, on today", () => {
    expect(boot(undefined, "2015").irq.apicv).toBe(false);
    expect(boot(undefined, "today").irq.apicv).toBe(true);
    const m = boot(undefined, "2015");
    m.set("apicv", "on");
    expect(m.irq.apicv).toBe(true);
    expect(m.vmcs.read32("SECONDARY_VM_EXEC_CONTROL") & 0x300).toBe(0x300);
  });

  test("the modelled clock: the vCPU sleeps until each deadline, 10,000 cycles apart (TDCR divide by 1, 1 GHz bus)", () => {
    const a = boot(false);
    a.run();
    // Five periods of the timer elapse before the guest stops, mostly asleep in HLT (idle time is
    // modelled time but not work: `cycles` counts instructions and exits only); reruns are identical.
    expect(a.time).toBeGreaterThanOrEqual(50_000);
    expect(a.time).toBeLessThan(50_000 + 30_000); // plus the set-up exits (about 4,000 cycles each)
    expect(a.idleCycles).toBeGreaterThan(0);
    expect(a.cycles + a.idleCycles).toBe(a.time);
    const b = boot(false);
    b.run();
    expect(b.cycles).toBe(a.cycles);
    expect(b.trace.lines("today")).toEqual(a.trace.lines("today"));
  });

  test("interrupts disabled: HLT with no wake-up source stops the VM as before", () => {
    const m = createX86Machine({ guest: { source: ".code32\nstart:\ncli\nhlt\n" }, settings: { stepLimit: 1000 } });
    expect(m.run().message).toMatch(/no interrupt source can wake it/);
  });

  test("irq N from the VMM: accepted into the IRR once the guest enabled its APIC; bad vectors are refused", () => {
    const m = boot(false);
    expect(() => m.injectIrq(3)).toThrow(/16-255/);
    expect(m.injectIrq(0x40)).toMatch(/dropped/); // SVR not yet written
    m.run({ maxSteps: 12 });
    expect(m.injectIrq(0x40)).toMatch(/pending/);
    expect(m.irq.lapic.highestIrr()).toBe(0x40);
  });
});

describe("NMIs (issue 16): blocking by NMI until IRET, the NMI window", () => {
  // The handler sends itself a second NMI (ICR: self, NMI); it must arrive only after the IRET.
  const src = `.code32
start:
  mov $0x7000000, %esp
  lgdt gdtr
  lidt idtr
  movl $0x1ff, 0xfee000f0
  movl $0x40400, 0xfee00300
wait:
  cmpl $2, count
  jb wait
  hlt
nmi:
  incl count
  cmpl $1, count
  jne 1f
  movl $0x40400, 0xfee00300
  movl count, %eax
  movl %eax, seen
1:
  iret
  flat_gdt_idt 2, nmi
count:
  .long 0
seen:
  .long 0
`;
  for (const apicv of [false, true]) {
    test(`apicv ${apicv ? "on" : "off"}: the nested NMI waits for the IRET (an NMI_WINDOW exit), then runs`, () => {
      const m = createX86Machine({ guest: { source: withFixtures(src) }, settings: { stepLimit: 100_000, apicv } });
      m.run();
      const word = (name: string) => Number(m.readPhysical(Number(m.symbols.get(name)), 4)[0]);
      expect(word("count")).toBe(2);
      expect(word("seen")).toBe(1); // still 1 right after sending: the second NMI was held
      expect(m.exits.filter((e) => e.reason === "NMI_WINDOW")).toHaveLength(1);
    });
  }
});
