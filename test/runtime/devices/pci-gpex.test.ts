// mach-virt's generic PCIe host on the arm64 machine: the /pcie node of the device tree the
// guest gets (hw/arm/virt.c create_pcie), and ECAM config accesses from a small guest (hw/pci-host/
// gpex.c: the host bridge 1b36:0008 class 0600 at 00:00.0; absent functions read all-ones), each
// one a data abort KVM hands to the VMM (an MMIO exit).

import { describe, expect, test } from "vitest";
import { createArm64Machine } from "../../../runtime/arm64/machine.js";
import { dtbToDts, machVirtDtb } from "../../../runtime/guests/arm64/dtb.js";

const GUEST = `
_start:
	ldr	x1, =0x4010000000	/* ECAM: bus 0, device 0, function 0 */
	ldr	w2, [x1]		/* vendor | device << 16 */
	ldr	w3, [x1, #8]		/* revision | class << 8 */
	ldrb	w4, [x1, #0xe]		/* header type */
	add	x5, x1, #0x8, lsl #12
	ldr	w5, [x5]		/* device 1: absent */
	ldr	x6, =0x4010100000	/* bus 1 */
	ldrh	w6, [x6]
	mov	w7, #0x0147
	strh	w7, [x1, #4]		/* command: MEMORY|IO|MASTER|PARITY|SERR; 0x0100 SERR */
	ldrh	w7, [x1, #4]
	mov	w8, #-1
	str	w8, [x1, #0x10]		/* size BAR0: the bridge has none */
	ldr	w8, [x1, #0x10]
	ldr	x0, =0x84000008		/* PSCI SYSTEM_OFF */
	hvc	#0
	b	.
	.ltorg
`;

describe("generic PCIe host (gpex)", () => {
  test("the device tree has QEMU's pci-host-ecam-generic node: high ECAM, 256 buses, three windows", () => {
    const dts = dtbToDts(machVirtDtb({ base: 0x4000_0000, size: 128 << 20 }, { base: 0x900_0000, size: 0x1000 }));
    expect(dts).toContain('compatible = "pci-host-ecam-generic";');
    expect(dts).toContain('device_type = "pci";');
    expect(dts).toContain("reg = <0x40 0x10000000 0x0 0x10000000>;");
    expect(dts).toContain("bus-range = <0x0 0xff>;");
    expect(dts).toContain("ranges = <0x1000000 0x0 0x0 0x0 0x3eff0000 0x0 0x10000 0x2000000 0x0 0x10000000 0x0 0x10000000 0x0 0x2eff0000 0x3000000 0x80 0x0 0x80 0x0 0x80 0x0>;");
  });

  test.each([false, true])("ECAM reads: the host bridge at 00:00.0, all-ones elsewhere; command writable, BARs not (jit %s)", (jit) => {
    const m = createArm64Machine({ guest: { source: GUEST }, settings: { jit, stepLimit: 100_000 } });
    const r = m.run({ maxSteps: 10_000 });
    expect(r.stop, r.message).toBe("halted");
    const x = (n: number) => m.readRegister(`x${n}`);
    expect(x(2)).toBe(0x0008_1b36n);
    expect(x(3)).toBe(0x0600_0000n);
    expect(x(4)).toBe(0n);
    expect(x(5)).toBe(0xffff_ffffn);
    expect(x(6)).toBe(0xffffn);
    expect(x(7)).toBe(0x0147n & 0x0547n);
    expect(x(8)).toBe(0n);
    // Every ECAM access is a data abort on an IPA outside RAM, emulated in user space.
    const ecam = m.exits.filter((e) => e.reason === "DABT_LOW" && (e.info.ipa as bigint) >= 0x40_1000_0000n);
    expect(ecam.length).toBe(9);
  });
});
