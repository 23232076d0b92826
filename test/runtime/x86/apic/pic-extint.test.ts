// The legacy PIC's INTR reaches the vCPU through its local APIC's LINT0 in ExtINT mode (issue 16):
// KVM's kvm_cpu_has_extint / kvm_cpu_get_interrupt (the vector from the PIC's acknowledge cycle,
// kvm_pic_read_irq) and pic_unlock's kick. The guest programs the 8259A (vector base 0x20, only IR1
// unmasked), sets LVT0 to ExtINT and spins with interrupts enabled; the VMM raises IRQ 1.

import { describe, expect, test } from "vitest";
import { createX86Machine, type X86Machine } from "../../../../runtime/x86/machine.js";
import { readX86Fixture } from "../fixtures/index.js";

const SRC = readX86Fixture("apic/pic-guest.s");
const boot = (apicv: boolean, lvt0 = 0x700): X86Machine => {
  const m = createX86Machine({ guest: { source: SRC.replace(".long 0x700", `.long ${lvt0}`) }, settings: { stepLimit: 20_000, apicv } });
  m.run({ maxSteps: 200 }); // through the PIC's and the APIC's set-up, into the loop
  return m;
};
const word = (m: X86Machine, sym: string) => Number(m.readPhysical(Number(m.symbols.get(sym)), 4)[0]);

describe("the 8259A's INTR through LINT0 (ExtINT)", () => {
  for (const apicv of [false, true]) {
    test(`IRQ 1 raised by the VMM reaches the guest as vector 0x21, injected by KVM (apicv ${apicv ? "on" : "off"})`, () => {
      const m = boot(apicv);
      expect(word(m, "count")).toBe(0);
      expect(m.irq.hasExtint()).toBe(false);
      m.setIrqLine(1, true);
      m.setIrqLine(1, false);
      expect(m.irq.hasExtint()).toBe(true);
      const r = m.run();
      expect(word(m, "count")).toBe(1);
      expect(r.message).toMatch(/HLT with interrupts disabled/);
      const lines = m.trace.lines("2015");
      expect(lines).toContain("kvm_pic_set_irq: chip 0 pin 1 (edge)");
      expect(lines.filter((l) => l.startsWith("kvm_inj_virq"))).toEqual(["kvm_inj_virq: irq 33"]);
      // The vector came from the PIC's acknowledge cycle: IR1 went in service, then the guest's EOI ended it.
      expect(m.pic.pics[0].isr).toBe(0);
      const injections = m.exits.filter((e) => e.reason === "EXTERNAL_INTERRUPT").length;
      expect(injections).toBeGreaterThanOrEqual(1); // pic_unlock's kick
      expect(m.irq.hasExtint()).toBe(false);
    });
  }
  test("LINT0 masked: the PIC's INTR stays high and the guest never sees it", () => {
    const m = boot(false, 0x10700);
    m.setIrqLine(1, true);
    m.setIrqLine(1, false);
    expect(m.pic.output).toBe(true);
    expect(m.irq.hasExtint()).toBe(false);
    m.run({ maxSteps: 5000 });
    expect(word(m, "count")).toBe(0);
  });
  test("a masked PIC pin (OCW1) raises no INTR", () => {
    const m = boot(false);
    m.setIrqLine(3, true);
    expect(m.pic.output).toBe(false);
    m.run({ maxSteps: 5000 });
    expect(word(m, "count")).toBe(0);
  });
});
