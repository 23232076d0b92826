// Stage-1 translation with a 4 KiB granule built by the guest, stage-1 faults taken at EL1,
// the attribute combination of both stages, and the stage-2 granule's effect on the boot guest.

import { describe, it, expect } from "vitest";
import { createArm64Machine, type Arm64Machine, type Arm64Settings } from "../../../runtime/arm64/machine.js";
import { decodeEsr, EC, FSC } from "../../../runtime/arm64/esr.js";
import { combineS1S2, mairAttrs, s2Attrs } from "../../../runtime/arm64/mmu.js";
import type { Exit } from "../../../runtime/core/machine.js";

const L1_TABLE = 0x4010_0000;
const DATA_VA = 0x4020_0000n;
const BAD_VA = 0x8000_1234n;

/**
 * 4 KiB granule, T0SZ 25 (39-bit VA: the walk starts at level 1), EPD1; one level-1 block
 * descriptor identity-mapping 0x40000000..0x7fffffff as Normal WB (MAIR attr0 = 0xff, AF).
 * Then MMU + caches on, a store/load through the MMU, and a load from an unmapped VA.
 */
const MMU_GUEST = `
	.text
	.globl	start
start:
	adr	x1, vectors
	msr	vbar_el1, x1
	ldr	x1, =${L1_TABLE}
	ldr	x2, =0x40000401		/* 0x40000000 | AF | AttrIndx 0 | block */
	str	x2, [x1, #8]		/* level-1 index 1: VA 0x40000000..0x7fffffff */
	dsb	sy
	ldr	x2, =0x800019		/* T0SZ 25, TG0 4 KiB, EPD1 */
	msr	tcr_el1, x2
	mov	x2, #0xff
	msr	mair_el1, x2
	msr	ttbr0_el1, x1
	isb
	mrs	x2, sctlr_el1
	ldr	x3, =0x1005		/* I | C | M */
	orr	x2, x2, x3
mmu_on:
	msr	sctlr_el1, x2
	isb
	ldr	x3, =${DATA_VA}
	ldr	x4, =0x1122334455667788
	str	x4, [x3]
	ldr	x5, [x3]
	ldr	x6, =${BAD_VA}
fault_at:
	ldr	x7, [x6]
	mov	x8, #1
	ldr	x0, =0x84000008
	hvc	#0
	b	.
	.ltorg

	.balign	2048
vectors:
	.skip	0x200
el1_sync:				/* record ESR, ELR, FAR; skip the faulting instruction */
	mrs	x20, esr_el1
	mrs	x21, elr_el1
	mrs	x22, far_el1
	add	x23, x23, #1
	add	x25, x21, #4
	msr	elr_el1, x25
	eret
`;

function boot(source: string, settings: Partial<Arm64Settings> = {}): Arm64Machine {
  return createArm64Machine({ guest: { source, fileName: "mmu.s" }, settings });
}

function runToHalt(m: Arm64Machine, maxSteps = 100_000): void {
  const r = m.run({ maxSteps });
  expect(r.stop, r.message).toBe("halted");
  expect(m.halted!.message).toMatch(/SYSTEM_OFF/);
}

const sym = (m: Arm64Machine, name: string): bigint => {
  const v = m.symbols.get(name);
  if (v === undefined) throw new Error(`no symbol ${name}`);
  return v;
};

const ecOf = (e: Exit) => decodeEsr(e.info.esr as bigint).ec;

describe("stage 1 with a 4 KiB granule built by the guest", () => {
  for (const era of ["2015", "today"] as const) {
    it(`enables the MMU and keeps running; loads and stores go through the tables (era ${era})`, () => {
      const m = boot(MMU_GUEST, { era });
      runToHalt(m);
      const sctlr = m.readRegister("sctlr_el1");
      expect(sctlr & 0x1005n).toBe(0x1005n);
      expect(m.readRegister("tcr_el1")).toBe(0x800019n);
      expect(m.readRegister("ttbr0_el1")).toBe(BigInt(L1_TABLE));
      expect(m.readRegister("x5")).toBe(0x1122334455667788n);
      // The identity map: the store landed at the same physical address.
      const bytes = m.readPhysical(Number(DATA_VA), 8);
      expect(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true)).toBe(0x1122334455667788n);
      expect(m.readRegister("x8")).toBe(1n);
      // With TVM (2015) the SCTLR write is the one that turns caches on: kvm_toggle_cache then clears TVM.
      if (era === "2015") {
        const sys = m.exits.filter((e) => ecOf(e) === EC.SYS64);
        expect(sys.map((e) => e.pc)).toContain(sym(m, "mmu_on"));
      }
      expect(m.kvm.hcr() & (1n << 26n)).toBe(0n);
    });
  }

  it("a VA without a descriptor faults at stage 1: DABT_CUR at EL1, FAR_EL1 = the VA, no exit to KVM", () => {
    const m = boot(MMU_GUEST);
    runToHalt(m);
    expect(m.readRegister("x23")).toBe(1n);
    const d = decodeEsr(m.readRegister("esr_el1"));
    expect(d.ec).toBe(0x25);
    expect(d.il).toBe(1);
    expect(d.fields.dfsc).toBe(FSC.translation(1));
    expect(d.fields.dfsc! & 0x3c).toBe(0x04); // translation fault, whatever the level
    expect(d.fields.wnr).toBe(0);
    expect(m.readRegister("far_el1")).toBe(BAD_VA);
    expect(m.readRegister("x22")).toBe(BAD_VA);
    expect(m.readRegister("x21")).toBe(sym(m, "fault_at"));
    expect(m.readRegister("x7")).toBe(0n);
    expect(m.exits.some((e) => ecOf(e) === EC.DABT_CUR)).toBe(false);
    // KVM saw no abort on the unmapped VA (nor on 0x80001234 as an IPA).
    expect(m.exits.some((e) => e.info.far === BAD_VA)).toBe(false);
  });

  it("view translate 0x40080000 reports Normal attributes after the MMU is on", () => {
    const m = boot(MMU_GUEST);
    runToHalt(m);
    const v = m.view("translate", "0x40080000");
    expect(v.rows).toHaveLength(3);
    expect(v.rows.map((r) => r[0])).toEqual(["fetch", "read", "write"]);
    for (const row of v.rows) {
      expect(row[1]).toBe("0x40080000"); // ipa (identity)
      expect(row[2]).toBe("0x40080000"); // pa
      expect(String(row[3])).toMatch(/^Normal/);
      expect(String(row[4])).toMatch(/^Normal/);
      expect(String(row[5])).toMatch(/^Normal WB/);
    }
    const t = m.cpu.mmu.walk(0x4008_0000n, "read", 1);
    expect(t.final.device).toBe(false);
    expect(t.final.cacheable).toBe(true);
    // Before the MMU is on, data accesses are Device (stage 1 off, HCR_EL2.DC clear).
    const fresh = boot(MMU_GUEST);
    const r = fresh.run({ maxSteps: 100_000, until: () => fresh.pc === sym(fresh, "mmu_on") });
    expect(r.stop).toBe("until");
    const off = fresh.view("translate", "0x40080000").rows.find((r) => r[0] === "read")!;
    expect(String(off[3])).toMatch(/^Device/);
    expect(String(off[5])).toMatch(/^Device/);
  });
});

describe("mairAttrs / s2Attrs / combineS1S2", () => {
  const s1wb = mairAttrs(0xff);
  const s1nc = mairAttrs(0x44);
  const s1dev = mairAttrs(0x00);
  const s2wb = s2Attrs(0xf);
  const s2nc = s2Attrs(0x5);
  const s2dev = s2Attrs(0x0);

  it("decodes the attribute encodings", () => {
    expect(s1wb).toMatchObject({ device: false, cacheable: true });
    expect(s1nc).toMatchObject({ device: false, cacheable: false });
    expect(s1dev).toMatchObject({ device: true, cacheable: false });
    expect(mairAttrs(0x04).device).toBe(true); // Device-nGnRE
    expect(s2wb).toMatchObject({ device: false, cacheable: true });
    expect(s2nc).toMatchObject({ device: false, cacheable: false });
    expect(s2dev).toMatchObject({ device: true, cacheable: false });
  });

  it("Normal WB with Normal NC is non-cacheable, in either order", () => {
    for (const c of [combineS1S2(s1wb, s2nc), combineS1S2(s1nc, s2wb), combineS1S2(s1nc, s2nc)]) {
      expect(c.device).toBe(false);
      expect(c.cacheable).toBe(false);
    }
    const both = combineS1S2(s1wb, s2wb);
    expect(both).toMatchObject({ device: false, cacheable: true });
  });

  it("Device at either stage is Device", () => {
    for (const c of [combineS1S2(s1dev, s2wb), combineS1S2(s1dev, s2nc), combineS1S2(s1wb, s2dev), combineS1S2(s1nc, s2dev), combineS1S2(s1dev, s2dev)]) {
      expect(c.device).toBe(true);
      expect(c.cacheable).toBe(false);
      expect(c.text).toMatch(/^Device/);
    }
  });
});

describe("stage-2 granule with the built-in boot guest", () => {
  function bootBuiltin(granule: "4k" | "64k") {
    const m = createArm64Machine({ settings: { granule } });
    const r = m.run({ maxSteps: 2_000_000 });
    expect(r.stop, r.message).toBe("halted");
    expect(m.halted!.message).toMatch(/SYSTEM_OFF/);
    return m;
  }

  it("4 KiB pages take more DABT_LOW exits than 64 KiB pages, and each mapping is one granule", () => {
    const small = bootBuiltin("4k");
    const large = bootBuiltin("64k");
    const dabt = (m: Arm64Machine) => m.exits.filter((e) => ecOf(e) === EC.DABT_LOW).length;
    expect(dabt(large)).toBeGreaterThan(0);
    expect(dabt(small)).toBeGreaterThan(dabt(large));
    expect(small.console).toBe(large.console);
    for (const [m, size] of [[small, 0x1000], [large, 0x1_0000]] as const) {
      const rows = m.view("stage2").rows;
      expect(rows.length).toBeGreaterThan(0);
      for (const row of rows) {
        expect(Number(BigInt(row[1] as string))).toBe(size);
        expect(Number(BigInt(row[0] as string)) % size).toBe(0);
      }
      expect(m.kvm.stage2.mappings().every((x) => x.size === size)).toBe(true);
    }
  });
});
