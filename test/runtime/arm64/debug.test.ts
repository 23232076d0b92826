// Self-hosted debug exceptions, which ID_AA64DFR0_EL1 (DebugVer 6, BRPs = WRPs = 1) advertises:
// hardware breakpoints, watchpoints and software step, on the interpreter and the compiled path.
// Sources: Arm ARM (DDI 0487) D2 "AArch64 Self-hosted Debug": D2.9 breakpoints (DBGBCR<n>_EL1 E,
// PMC, BAS, BT; taken before the instruction, EC 0x31 from EL1, IFSC 0b100010), D2.10
// watchpoints (DBGWCR<n>_EL1 E, PAC, LSC, BAS; EC 0x35, DFSC 0b100010, WnR, FAR = the address),
// D2.12 software step (MDSCR_EL1.SS, PSTATE.SS from SPSR_EL1.SS on ERET; EC 0x33, ISS.ISV = 1),
// AArch64.GenerateDebugExceptionsFrom (OSLSR_EL1.OSLK, MDSCR_EL1.KDE, PSTATE.D); kvm-unit-tests
// arm/debug.c does the same three checks.

import { describe, expect, test } from "vitest";
import { createArm64Machine, type Arm64Machine } from "../../../runtime/arm64/machine.js";

/** EL1 vector: logs ESR_EL1, ELR_EL1, FAR_EL1 (24 bytes each, x23 counts); the handler is `handler` then ERET. */
const vectors = (handler: string) => `
	.balign	2048
vectors:
	.skip	0x200
	adr	x26, log
	mov	x27, #24
	madd	x26, x23, x27, x26
	mrs	x24, esr_el1
	str	x24, [x26]
	mrs	x24, elr_el1
	str	x24, [x26, #8]
	mrs	x24, far_el1
	str	x24, [x26, #16]
	add	x23, x23, #1
${handler}
	eret
	.balign	4096
log:	.space	480
`;

/** Step ELR_EL1 past the instruction (breakpoints and watchpoints would fire again on return). */
const SKIP = `
	mrs	x26, elr_el1
	add	x26, x26, #4
	msr	elr_el1, x26`;

/** Keep stepping: SPSR_EL1.SS = 1 (as kvm-unit-tests' ss_handler). */
const KEEP_STEPPING = `
	mrs	x26, spsr_el1
	orr	x26, x26, #0x200000
	msr	spsr_el1, x26`;

const program = (body: string, handler: string) => `
_start:
	adr	x1, vectors
	msr	vbar_el1, x1
	mov	x23, #0
	msr	oslar_el1, xzr		/* OS lock off */
${body}
	ldr	x0, =0x84000008
	hvc	#0
	b	.
	.ltorg
	.balign	64
wdata:	.quad	0, 0
${vectors(handler)}
`;

interface Logged { ec: number; iss: number; elr: bigint; far: bigint }

function run(source: string, jit: boolean): { m: Arm64Machine; log: Logged[] } {
  const m = createArm64Machine({ guest: { source }, settings: { jit, stepLimit: 1_000_000 } });
  const r = m.run({ maxSteps: 200_000 });
  expect(r.stop, `${r.message ?? ""} ${m.halted?.message ?? ""}`).toBe("halted");
  const n = Number(m.readRegister("x23"));
  const bytes = m.readPhysical(Number(m.symbols.get("log")!), 24 * n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const log = Array.from({ length: n }, (_, i) => {
    const esr = dv.getBigUint64(24 * i, true);
    return { ec: Number(esr >> 26n), iss: Number(esr & 0x1ff_ffffn), elr: dv.getBigUint64(24 * i + 8, true), far: dv.getBigUint64(24 * i + 16, true) };
  });
  return { m, log };
}

const sym = (m: Arm64Machine, name: string) => m.symbols.get(name)!;

/** MDSCR_EL1 = KDE | MDE (| SS), then unmask PSTATE.D. */
const enable = (ss = false) => `
	ldr	x1, =${ss ? "0xa001" : "0xa000"}
	msr	mdscr_el1, x1
	isb
	msr	daifclr, #8`;

describe("debug exceptions", () => {
  test("a hardware breakpoint fires before its instruction (EC 0x31, IFSC 0x22), per slot; not with PSTATE.D set or the OS lock", () => {
    const src = program(`
	adr	x2, bp0
	msr	dbgbvr1_el1, x2		/* slot 1: bp0 */
	ldr	x3, =0x1e7		/* BAS 0b1111, PMC 0b11 (EL1 and EL0), E */
	msr	dbgbcr1_el1, x3
	isb
	mov	x10, #0
${enable()}
bp0:	add	x10, x10, #1		/* breakpoint: skipped by the handler, so x10 stays 0 */`, SKIP);
    for (const jit of [true, false]) {
      const { m, log } = run(src, jit);
      expect(log.map((l) => [l.ec, l.iss, l.elr - sym(m, "bp0")]), `jit ${jit}`).toEqual([[0x31, 0x22, 0n]]);
      expect(m.readRegister("x10")).toBe(0n);
    }
    // PSTATE.D = 1 (never unmasked) and the OS lock each suppress it.
    for (const [what, body] of [["PSTATE.D", "\tldr\tx1, =0xa000\n\tmsr\tmdscr_el1, x1"], ["OS lock", `${enable()}\n\tmov\tx1, #1\n\tmsr\toslar_el1, x1`]]) {
      const src2 = program(`
	adr	x2, bp0
	msr	dbgbvr0_el1, x2
	ldr	x3, =0x1e7
	msr	dbgbcr0_el1, x3
	mov	x10, #0
${body}
bp0:	add	x10, x10, #1`, SKIP);
      const { m, log } = run(src2, true);
      expect(log, what).toEqual([]);
      expect(m.readRegister("x10"), what).toBe(1n);
    }
  });

  test("a watchpoint fires on the access it selects (store, bytes by BAS) with FAR = the address; other accesses pass", () => {
    const src = program(`
	adr	x2, wdata
	msr	dbgwvr0_el1, x2
	ldr	x3, =0x1f7		/* BAS 0x0f (bytes 0..3), LSC 0b10 (stores), PAC 0b11, E */
	msr	dbgwcr0_el1, x3
	isb
${enable()}
	ldr	x5, [x2]		/* a load: not selected */
	mov	x6, #0x55
	strh	w6, [x2, #4]		/* bytes 4..5: not selected */
wp:	str	w6, [x2]		/* bytes 0..3: fires, the store does not happen */
	ldr	x7, [x2]`, SKIP);
    for (const jit of [true, false]) {
      const { m, log } = run(src, jit);
      const w = sym(m, "wdata");
      expect(log.map((l) => [l.ec, l.iss, l.elr - sym(m, "wp"), l.far - w]), `jit ${jit}`).toEqual([[0x35, 0x22 | 0x40, 0n, 0n]]);
      expect(m.readRegister("x7"), "only the unselected byte store happened").toBe(0x55n << 32n);
    }
  });

  test("software step: with MDSCR_EL1.SS and PSTATE.D clear, a step exception comes before each instruction (ERET with SPSR.SS = 1 steps one)", () => {
    const src = program(`${enable(true)}
s0:	mov	x10, #1			/* active-pending after the unmask: the exception comes first, at s0 */
s1:	mov	x11, #2
s2:	msr	daifset, #8		/* masks D: stepping stops after this one */
	mov	x12, #3`, KEEP_STEPPING);
    for (const jit of [true, false]) {
      const { m, log } = run(src, jit);
      expect(log.map((l) => [l.ec, l.iss]), `jit ${jit}`).toEqual([[0x33, 0x100_0022], [0x33, 0x100_0022], [0x33, 0x100_0022]]);
      expect(log.map((l) => l.elr), `jit ${jit}: one exception before each instruction`).toEqual([sym(m, "s0"), sym(m, "s1"), sym(m, "s2")]);
      expect([m.readRegister("x10"), m.readRegister("x11"), m.readRegister("x12")]).toEqual([1n, 2n, 3n]);
    }
  });
});
