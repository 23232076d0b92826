// Alignment faults of the arm64 CPU, each case run on the interpreter and on the compiled path
// (they must agree). Sources, cited per test: Arm ARM (DDI 0487) B2.5.2 "Alignment of data
// accesses" and the pseudocode AArch64.CheckAlignment (SCTLR_ELx.A; exclusives, acquire/release
// and atomics must be aligned), AArch64.FirstStageTranslate (an unaligned access to Device memory,
// or DC ZVA to Device memory, is an Alignment fault), D5.2.9 "The effects of disabling stage 1"
// (with SCTLR_EL1.M = 0 every data access is Device-nGnRnE), D1.8.2 "Stack pointer alignment
// checking" (SCTLR_EL1.SA), ESR_ELx DFSC 0b100001 = Alignment fault.

import { describe, expect, test } from "vitest";
import { createArm64Machine, type Arm64Machine } from "../../../runtime/arm64/machine.js";

const boot = (source: string, jit: boolean): Arm64Machine => createArm64Machine({ guest: { source }, settings: { jit, stepLimit: 1_000_000 } });

const ALIGNMENT = 0b100001;
const DABT_CUR = 0x25;

/**
 * EL1 synchronous vector (VBAR_EL1 + 0x200) that logs ESR_EL1 and FAR_EL1 of each exception into
 * `log` (16 bytes each, x23 counts them) and returns past the faulting instruction.
 */
const VECTORS = `
	.balign	2048
vectors:
	.skip	0x200
	adr	x26, log
	add	x26, x26, x23, lsl #4
	mrs	x24, esr_el1
	mrs	x25, far_el1
	stp	x24, x25, [x26]
	add	x23, x23, #1
	mrs	x26, elr_el1
	add	x26, x26, #4
	msr	elr_el1, x26
	eret
	.balign	4096
log:	.space	256
`;

const POWER_OFF = `
	ldr	x0, =0x84000008		/* PSCI SYSTEM_OFF */
	hvc	#0
	b	.
	.ltorg
`;

/** The guest's vectors, then `body`, then SYSTEM_OFF; `data` (64-byte aligned, on its own page) follows. */
const program = (body: string, data = "data:\t.quad 0x1111111122222222, 0x3333333344444444, 0x5555555566666666, 0x7777777788888888") => `
_start:
	adr	x1, vectors
	msr	vbar_el1, x1
	mov	x23, #0
${body}
${POWER_OFF}
	.balign	4096
${data}
${VECTORS}
`;

interface Logged {
  ec: number;
  dfsc: number;
  wnr: number;
  far: bigint;
}

/** Run to SYSTEM_OFF and return the exceptions the vector logged. */
function run(source: string, jit: boolean): { m: Arm64Machine; log: Logged[] } {
  const m = boot(source, jit);
  const r = m.run({ maxSteps: 200_000 });
  expect(r.stop, `${r.message ?? ""} ${m.halted?.message ?? ""}`).toBe("halted");
  expect(m.halted!.message).toMatch(/SYSTEM_OFF/);
  const n = Number(m.readRegister("x23"));
  const bytes = m.readPhysical(Number(m.symbols.get("log")!), 16 * n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const log = Array.from({ length: n }, (_, i) => {
    const esr = dv.getBigUint64(16 * i, true);
    return { ec: Number(esr >> 26n), dfsc: Number(esr & 0x3fn), wnr: Number((esr >> 6n) & 1n), far: dv.getBigUint64(16 * i + 8, true) };
  });
  return { m, log };
}

const sym = (m: Arm64Machine, name: string) => m.symbols.get(name)!;

/** Identity-map the 1 GiB at 0x40000000 Normal write-back (attr 0) and the same RAM at VA 0x80000000 as Device-nGnRnE (attr 1), MMU on. */
const MMU_ON = `
	ldr	x1, =0x40100000		/* level-1 table */
	ldr	x2, =0x40000401		/* VA 0x40000000: block -> 0x40000000, AttrIndx 0, AF */
	str	x2, [x1, #8]
	ldr	x2, =0x40000405		/* VA 0x80000000: block -> 0x40000000, AttrIndx 1 (Device), AF */
	str	x2, [x1, #16]
	dsb	sy
	ldr	x2, =0x80190019		/* T0SZ = T1SZ = 25, 4K granules */
	msr	tcr_el1, x2
	mov	x2, #0xff		/* attr 0: Normal WB; attr 1: 0x00 Device-nGnRnE */
	msr	mair_el1, x2
	msr	ttbr0_el1, x1
	isb
	mrs	x2, sctlr_el1
	ldr	x3, =0x1005
	orr	x2, x2, x3
	msr	sctlr_el1, x2
	isb
`;

describe("arm64 alignment faults", () => {
  test("MMU off, every data access is Device: unaligned loads and stores are Alignment faults (FAR = address, WnR), aligned ones work", () => {
    // Arm ARM D5.2.9: stage 1 disabled → data accesses Device-nGnRnE; B2.5.2: unaligned Device access → Alignment fault.
    const src = program(`
	adr	x2, data
	ldr	x3, [x2, #8]		/* aligned: fine */
	ldr	x4, [x2, #1]		/* must fault */
	mov	x9, #0x99
	str	w9, [x2, #2]		/* must fault (store: WnR) */
	ldrh	w5, [x2, #3]		/* must fault */
	ldrb	w6, [x2, #3]		/* a byte is always aligned */
	add	x11, x2, #4
	ldp	x7, x8, [x11]		/* must fault (each element is checked) */
	ldr	x10, [x2]`);
    for (const jit of [true, false]) {
      const { m, log } = run(src, jit);
      const data = sym(m, "data");
      expect(log.map((l) => [l.ec, l.dfsc, l.wnr, l.far - data]), `jit ${jit}`).toEqual([
        [DABT_CUR, ALIGNMENT, 0, 1n], [DABT_CUR, ALIGNMENT, 1, 2n], [DABT_CUR, ALIGNMENT, 0, 3n], [DABT_CUR, ALIGNMENT, 0, 4n],
      ]);
      expect(m.readRegister("x3")).toBe(0x3333333344444444n);
      expect([m.readRegister("x4"), m.readRegister("x5"), m.readRegister("x7"), m.readRegister("x8")], "faulting loads leave registers alone").toEqual([0n, 0n, 0n, 0n]);
      expect(m.readRegister("x6")).toBe(0x22n);
      expect(m.readRegister("x10"), "the faulting store wrote nothing").toBe(0x1111111122222222n);
    }
  });

  test("an unaligned access to an MMIO address with the MMU off faults at stage 1 (Device) before any stage-2 exit", () => {
    // AArch64.FirstStageTranslate checks Device alignment before the stage-2 walk: no MMIO exit to KVM.
    const src = program(`
	ldr	x2, =0x09000001		/* PL011 + 1 */
	ldr	w3, [x2]`);
    for (const jit of [true, false]) {
      const { m, log } = run(src, jit);
      expect(log.map((l) => [l.ec, l.dfsc, l.far])).toEqual([[DABT_CUR, ALIGNMENT, 0x0900_0001n]]);
      expect(m.exits.filter((e) => e.reason === "DABT_LOW"), `jit ${jit}: no MMIO exit`).toEqual([]);
    }
  });

  test("MMU on: unaligned accesses work on Normal memory (also across a page) and fault through a Device mapping of the same RAM", () => {
    const src = program(`${MMU_ON}
	adr	x2, data
	ldr	x3, [x2, #1]		/* Normal: fine */
	ldr	x4, =0xfff
	add	x4, x2, x4
	ldr	x5, [x4]		/* Normal, crosses into the next page: fine */
	ldr	x6, =0x40000000
	add	x6, x2, x6		/* the same data through the Device block at VA 0x80000000 + offset */
	ldr	x7, [x6, #8]		/* Device, aligned: fine */
	ldr	x8, [x6, #1]		/* Device, unaligned: must fault */
	str	x7, [x6, #3]		/* must fault */`);
    for (const jit of [true, false]) {
      const { m, log } = run(src, jit);
      const data = sym(m, "data");
      expect(m.readRegister("x3"), `jit ${jit}`).toBe(0x4411111111222222n);
      expect(m.readRegister("x7")).toBe(0x3333333344444444n);
      expect(log.map((l) => [l.ec, l.dfsc, l.wnr, l.far])).toEqual([
        [DABT_CUR, ALIGNMENT, 0, data + 0x4000_0001n], [DABT_CUR, ALIGNMENT, 1, data + 0x4000_0003n],
      ]);
      expect(m.readRegister("x8")).toBe(0n);
    }
  });

  test("SCTLR_EL1.A = 1 makes every unaligned data access an Alignment fault, Normal memory too", () => {
    // AArch64.CheckAlignment: `if SCTLR[].A == '1' then aligned check for every access`.
    const src = program(`${MMU_ON}
	mrs	x2, sctlr_el1
	orr	x2, x2, #2		/* A */
	msr	sctlr_el1, x2
	isb
	adr	x2, data
	ldr	x3, [x2, #8]		/* aligned: fine */
	ldr	x4, [x2, #1]		/* must fault */
	ldrb	w5, [x2, #1]		/* a byte: fine */`);
    for (const jit of [true, false]) {
      const { m, log } = run(src, jit);
      expect(log.map((l) => [l.ec, l.dfsc, l.far - sym(m, "data")]), `jit ${jit}`).toEqual([[DABT_CUR, ALIGNMENT, 1n]]);
      expect([m.readRegister("x3"), m.readRegister("x4"), m.readRegister("x5")]).toEqual([0x3333333344444444n, 0n, 0x22n]);
    }
  });

  test("exclusives and acquire/release must be aligned on Normal memory; STXR checks alignment before the monitor", () => {
    // B2.5.2 and AArch64.ExclusiveMonitorsPass: "if !aligned then AArch64.Abort(AlignmentFault)" before the monitor check.
    const src = program(`${MMU_ON}
	adr	x2, data
	add	x3, x2, #4
	ldxr	w10, [x2]		/* aligned word: fine, opens the monitor */
	stxr	w11, w10, [x2]		/* succeeds: w11 = 0 */
	clrex
	stxr	w12, x10, [x3]		/* unaligned doubleword, monitor closed: faults anyway (w12 unchanged) */
	ldaxr	x13, [x3]		/* must fault */
	stlrh	w10, [x2]		/* aligned: fine */
	add	x4, x2, #1
	stlrh	w10, [x4]		/* must fault */
	mov	x12, #7`);
    for (const jit of [true, false]) {
      const { m, log } = run(src, jit);
      const data = sym(m, "data");
      expect(log.map((l) => [l.ec, l.dfsc, l.wnr, l.far - data]), `jit ${jit}`).toEqual([
        [DABT_CUR, ALIGNMENT, 1, 4n], [DABT_CUR, ALIGNMENT, 0, 4n], [DABT_CUR, ALIGNMENT, 1, 1n],
      ]);
      expect(m.readRegister("x11")).toBe(0n);
      expect(m.readRegister("x13")).toBe(0n);
    }
  });

  test("DC ZVA is an Alignment fault on Device memory (MMU off) and zeroes 64 bytes on Normal memory", () => {
    // AArch64.FirstStageTranslate: `acctype == AccType_DCZVA && memtype == Device` → Alignment fault.
    const off = program(`
	adr	x2, data
	dc	zva, x2
	ldr	x3, [x2]`);
    const on = program(`${MMU_ON}
	adr	x2, data
	dc	zva, x2
	ldr	x3, [x2]
	ldr	x4, [x2, #56]`);
    for (const jit of [true, false]) {
      const a = run(off, jit);
      expect(a.log.map((l) => [l.ec, l.dfsc, l.wnr, l.far - sym(a.m, "data")]), `jit ${jit}`).toEqual([[DABT_CUR, ALIGNMENT, 1, 0n]]);
      expect(a.m.readRegister("x3")).toBe(0x1111111122222222n);
      const b = run(on, jit);
      expect(b.log).toEqual([]);
      expect([b.m.readRegister("x3"), b.m.readRegister("x4")]).toEqual([0n, 0n]);
    }
  });

  test("SP alignment: a misaligned SP base faults with SCTLR_EL1.SA = 1 (pairs and exclusives too) and not with SA = 0", () => {
    // D1.8.2: CheckSPAlignment, EC 0x26; KVM's reset SCTLR_EL1 (0x00C50078) has SA = 1.
    const src = program(`
	adr	x1, data
	add	x1, x1, #8
	mov	sp, x1			/* SP = 8 mod 16 */
	stp	x1, x1, [sp, #-16]!	/* must fault, SP unchanged */
	ldxr	x3, [sp]		/* must fault */
	mov	x5, sp
	mrs	x2, sctlr_el1
	mov	x12, #8
	bic	x2, x2, x12		/* SA = 0 */
	msr	sctlr_el1, x2
	ldr	x4, [sp]		/* fine now */`);
    for (const jit of [true, false]) {
      const { m, log } = run(src, jit);
      expect(log.map((l) => l.ec), `jit ${jit}`).toEqual([0x26, 0x26]);
      expect(m.readRegister("x5")).toBe(sym(m, "data") + 8n);
      expect(m.readRegister("x3")).toBe(0n);
      expect(m.readRegister("x4")).toBe(0x3333333344444444n);
    }
  });
});
