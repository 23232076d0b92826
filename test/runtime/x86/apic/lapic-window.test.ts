// Relocating the xAPIC registers (SDM Vol. 3 11.4.5): KVM moves apic->base_address with
// IA32_APIC_BASE (kvm_lapic_set_base) and claims an access for the accessing vCPU's APIC when it
// falls in that page (apic_mmio_in_range); runtime/x86/apic/lapic-window.ts.

import { describe, expect, test } from "vitest";
import { createX86Machine, type X86Machine } from "../../../../runtime/x86/machine.js";

const ALTERNATE = 0xfed40000;
/** Disable the APIC, enable it at `base` (EN | BSP), read LVR there into EBX and at 0xfee00000 into ESI, then move it back and read LVR at 0xfee00000 into EDI. */
const relocate = (base: number) => `.code32\nstart:\nmov $0x1b, %ecx\nrdmsr\nmov %eax, %ebp\nand $0xfffff3ff, %eax\nwrmsr\n` +
  `mov $${(base | 0x900) >>> 0}, %eax\nxor %edx, %edx\nwrmsr\nmov ${base + 0x30}, %ebx\nmov 0xfee00030, %esi\n` +
  `mov $0x1b, %ecx\nmov %ebp, %eax\nxor %edx, %edx\nwrmsr\nmov 0xfee00030, %edi\nhlt\n`;

function run(apicv: boolean, vcpus = 1): X86Machine {
  const m = createX86Machine({ guest: { source: relocate(ALTERNATE) }, settings: { stepLimit: 10_000, era: "today", apicv, vcpus } });
  m.run();
  return m;
}

describe("IA32_APIC_BASE relocation (kvm_lapic_set_base, apic_mmio_in_range)", () => {
  for (const vcpus of [1, 2]) {
    test(`the registers answer at the new base, the old page no longer (APICv off, ${vcpus} vCPU${vcpus > 1 ? "s" : ""})`, () => {
      const m = run(false, vcpus);
      expect(m.halted?.message ?? "").not.toMatch(/triple fault|internal error/i);
      expect(Number(m.readRegister("ebx"))).toBe(0x5_0014); // LVR: version 0x14, max LVT 5
      expect(Number(m.readRegister("esi"))).toBe(0xffff_ffff);
      expect(Number(m.readRegister("edi"))).toBe(0x5_0014); // back at 0xfee00000
      expect(m.irq.lapic.baseMsr).toBe(0xfee0_0900n);
    });
  }
  test("with APICv the new base is emulated too, and RDMSR returns the moved base", () => {
    const src = `.code32\nstart:\nmov $0x1b, %ecx\nrdmsr\nand $0xfffff3ff, %eax\nwrmsr\nmov $${(ALTERNATE | 0x900) >>> 0}, %eax\nxor %edx, %edx\nwrmsr\nrdmsr\nmov %eax, %esi\nmov ${ALTERNATE + 0x30}, %ebx\nhlt\n`;
    const m = createX86Machine({ guest: { source: src }, settings: { stepLimit: 10_000, era: "today", apicv: true } });
    m.run();
    expect(Number(m.readRegister("ebx"))).toBe(0x5_0014);
    expect(Number(m.readRegister("esi"))).toBe((ALTERNATE | 0x900) >>> 0);
    expect(m.irq.lapic.baseAddress).toBe(ALTERNATE);
  });
});
