// SIMD&FP register loads and stores on the arm64 CPU: LDP/STP of Q, D and S registers move the
// 128-bit V registers through memory (Arm ARM C6.2 LDP/STP (SIMD&FP); writing D or S zeroes the rest
// of the register: the V[] setter), and CPACR_EL1.FPEN gates them (Arm ARM D1.10.1
// CheckFPAdvSIMDEnabled64, D17.2.30 CPACR_EL1: FPEN 0bx0 traps EL1 to EL1 with EC 0x07).
// Each case runs on the interpreter and on the compiled path.

import { describe, expect, test } from "vitest";
import { createArm64Machine, type Arm64Machine } from "../../../runtime/arm64/machine.js";

const FP_ASIMD = 0x07;

/** The guest: vectors logging ESR_EL1 (x23 counts, x22 holds the last), `body`, SYSTEM_OFF, 64 bytes of `src` and 64 of `dst`. */
const program = (body: string) => `
_start:
	adr	x1, vectors
	msr	vbar_el1, x1
	mov	x23, #0
	mov	x22, #0
${body}
	ldr	x0, =0x84000008		/* PSCI SYSTEM_OFF */
	hvc	#0
	b	.
	.ltorg
	.balign	64
src:	.quad 0x1111111111111111, 0x2222222222222222, 0x3333333333333333, 0x4444444444444444
	.quad 0x5555555555555555, 0x6666666666666666, 0x7777777777777777, 0x8888888888888888
dst:	.space	64
	.balign	2048
vectors:
	.skip	0x200
	mrs	x22, esr_el1
	add	x23, x23, #1
	mrs	x26, elr_el1
	add	x26, x26, #4
	msr	elr_el1, x26
	eret
`;

function run(body: string, jit: boolean): Arm64Machine {
  const m = createArm64Machine({ guest: { source: program(body) }, settings: { jit, stepLimit: 1_000_000 } });
  const r = m.run({ maxSteps: 200_000 });
  expect(r.stop, `${r.message ?? ""}`).toBe("halted");
  expect(m.halted!.message).toMatch(/SYSTEM_OFF/);
  return m;
}

const quads = (m: Arm64Machine, sym: string, n: number): bigint[] => {
  const b = m.readPhysical(Number(m.symbols.get(sym)!), 8 * n);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return Array.from({ length: n }, (_, i) => dv.getBigUint64(8 * i, true));
};

const FPEN_ON = `
	mov	x1, #(3 << 20)
	msr	cpacr_el1, x1
	isb
`;

describe.each([false, true])("SIMD&FP loads and stores (jit %s)", (jit) => {
  test("ldp/stp q with post- and pre-index move 128-bit registers and write back the base", () => {
    const m = run(`${FPEN_ON}
	adr	x0, src
	ldp	q0, q1, [x0], #32
	ldp	q30, q31, [x0]
	adr	x1, dst
	sub	x1, x1, #16
	stp	q31, q30, [x1, #16]!
	stp	q1, q0, [x1, #32]
	mov	x2, x0
	mov	x3, x1`, jit);
    expect(Number(m.readRegister("x23"))).toBe(0);
    const src = quads(m, "src", 8);
    expect(quads(m, "dst", 8)).toEqual([src[6], src[7], src[4], src[5], src[2], src[3], src[0], src[1]]);
    expect(m.readRegister("x2")).toBe(m.symbols.get("src")! + 32n);
    expect(m.readRegister("x3")).toBe(m.symbols.get("dst")!);
  });

  test("ldp d zeroes the upper half of the V register; stp s stores 32 bits", () => {
    const m = run(`${FPEN_ON}
	adr	x0, src
	ldp	q2, q3, [x0]
	ldp	d2, d3, [x0, #32]
	adr	x1, dst
	stp	q2, q3, [x1]
	stp	s3, s2, [x1, #32]`, jit);
    const src = quads(m, "src", 8);
    const dst = quads(m, "dst", 6);
    expect(dst.slice(0, 4)).toEqual([src[4], 0n, src[5], 0n]);
    expect(dst[4]).toBe(((src[4]! & 0xffffffffn) << 32n) | (src[5]! & 0xffffffffn));
  });

  test("CPACR_EL1.FPEN = 0 traps ldp q to EL1 with EC 0x07 before any access or write-back", () => {
    const m = run(`
	msr	cpacr_el1, xzr
	isb
	adr	x5, src
	mov	x4, x5
	ldp	q0, q1, [x5], #32`, jit);
    expect(Number(m.readRegister("x23"))).toBe(1);
    expect(Number(m.readRegister("x22") >> 26n)).toBe(FP_ASIMD);
    expect(m.readRegister("x5")).toBe(m.readRegister("x4"));
  });

  test("CPACR_EL1.FPEN = 0b01 traps EL0 only: EL1 runs stp q", () => {
    const m = run(`
	mov	x1, #(1 << 20)
	msr	cpacr_el1, x1
	isb
	adr	x1, dst
	stp	q0, q1, [x1]`, jit);
    expect(Number(m.readRegister("x23"))).toBe(0);
  });
});
