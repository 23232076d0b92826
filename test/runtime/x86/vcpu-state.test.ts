// The x86 vCPU facts of vcpu-state.ts: the INIT/SIPI register state (SDM Vol. 3 Table 9-1, 8.4.4)
// and kvm_apic_match_dest's destination matching (SDM Vol. 3 11.6.2), on real local APICs.

import { describe, expect, it } from "vitest";
import { initState, matchesDest, SHORTHAND } from "../../../runtime/x86/vcpu-state.js";
import { LocalApic } from "../../../runtime/x86/apic/lapic.js";
import { apicOffset } from "../../../runtime/x86/apic/registers.js";

function apic(id: number): LocalApic {
  return new LocalApic(id, { now: () => 0, tscOffset: () => 0, cr8: { get: () => 0, set: () => {} }, emit: () => {} });
}

describe("INIT and SIPI state", () => {
  it("SIPI vector v starts real mode at CS = v << 8, base v << 12, IP 0", () => {
    const s = initState(0x9a);
    expect(s.mode).toBe("real");
    expect(s.seg.cs.selector).toBe(0x9a00);
    expect(s.seg.cs.base).toBe(0x9a000n);
    expect(s.rip).toBe(0n);
    expect(s.cr0).toBe(0x6000_0010n);
    expect(s.rflags).toBe(2n);
    expect(s.gpr[2]).not.toBe(0n); // RDX = the processor signature
  });

  it("INIT alone is the reset vector F000:FFF0 with base FFFF0000", () => {
    const s = initState();
    expect(s.seg.cs.selector).toBe(0xf000);
    expect(s.seg.cs.base).toBe(0xffff_0000n);
    expect(s.rip).toBe(0xfff0n);
  });
});

describe("IPI destinations (kvm_apic_match_dest)", () => {
  const a = [apic(0), apic(1), apic(2)];

  it("shorthands: self, all, all but self", () => {
    expect(a.map((t) => matchesDest(t, 1, SHORTHAND.self, 0, false))).toEqual([false, true, false]);
    expect(a.map((t) => matchesDest(t, 1, SHORTHAND.all, 0, false))).toEqual([true, true, true]);
    expect(a.map((t) => matchesDest(t, 1, SHORTHAND.allButSelf, 0, false))).toEqual([true, false, true]);
  });

  it("physical: the APIC ID or the broadcast ID", () => {
    expect(a.map((t) => matchesDest(t, 0, SHORTHAND.none, 2, false))).toEqual([false, false, true]);
    expect(a.map((t) => matchesDest(t, 0, SHORTHAND.none, 0xff, false))).toEqual([true, true, true]);
  });

  it("physical in xAPIC mode matches the xAPIC ID register the guest wrote, aliases included (kvm_apic_match_physical_addr)", () => {
    const x = [apic(0), apic(1), apic(2)];
    const ID = apicOffset("ID");
    x[1]!.writeReg(ID, 0);
    x[2]!.writeReg(ID, 7 << 24);
    expect(x.map((t) => matchesDest(t, 0, SHORTHAND.none, 0, false))).toEqual([true, true, false]);
    expect(x.map((t) => matchesDest(t, 0, SHORTHAND.none, 2, false))).toEqual([false, false, false]);
    expect(x.map((t) => matchesDest(t, 0, SHORTHAND.none, 7, false))).toEqual([false, false, true]);
  });

  it("logical flat: LDR bits against the destination set; cluster: high nibble equal, low nibbles intersect", () => {
    const LDR = apicOffset("LDR"), DFR = apicOffset("DFR");
    a.forEach((t, i) => t.writeReg(LDR, (1 << i) << 24));
    expect(a.map((t) => matchesDest(t, 0, SHORTHAND.none, 0b101, true))).toEqual([true, false, true]);
    a.forEach((t, i) => (t.writeReg(DFR, 0x0fff_ffff), t.writeReg(LDR, (0x10 | (1 << i)) << 24)));
    expect(a.map((t) => matchesDest(t, 0, SHORTHAND.none, 0x12, true))).toEqual([false, true, false]);
    expect(a.map((t) => matchesDest(t, 0, SHORTHAND.none, 0x22, true))).toEqual([false, false, false]);
  });

  it("x2APIC logical: cluster ID[19:4] in dest[31:16], bit ID[3:0] in dest[15:0]", () => {
    const x = [apic(0), apic(1), apic(17)];
    for (const t of x) t.setBase(0xfee0_0000 | (1 << 11) | (1 << 10));
    expect(x.map((t) => matchesDest(t, 0, SHORTHAND.none, 0x0000_0002, true))).toEqual([false, true, false]);
    expect(x.map((t) => matchesDest(t, 0, SHORTHAND.none, 0x0001_0002, true))).toEqual([false, false, true]);
    expect(x.map((t) => matchesDest(t, 0, SHORTHAND.none, 0xffff_ffff, false))).toEqual([true, true, true]);
  });
});
