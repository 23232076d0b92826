// Review of the arm64 execution engine and the CPU model around it: bugs found by running guests
// (jit on and off alike, unless a test says otherwise). Each test is the behaviour the Arm ARM
// (DDI 0487) requires. The alignment checks (exclusive/acquire-release accesses, SP alignment)
// were `test.fails` until the model made them; test/runtime/arm64/alignment.test.ts has the rest.

import { describe, expect, test } from "vitest";
import { createArm64Machine, type Arm64Machine } from "../../../runtime/arm64/machine.js";

const boot = (source: string, jit: boolean): Arm64Machine => createArm64Machine({ guest: { source }, settings: { jit, stepLimit: 1_000_000 } });

function runToOff(m: Arm64Machine): void {
  const r = m.run({ maxSteps: 500_000 });
  expect(r.stop, `${r.message ?? ""} ${m.halted?.message ?? ""}`).toBe("halted");
  expect(m.halted!.message).toMatch(/SYSTEM_OFF/);
}

const hex = (v: bigint) => "0x" + v.toString(16);

/**
 * EL1 synchronous vector (current EL, SP_ELx: VBAR_EL1 + 0x200) that counts exceptions in x23,
 * keeps ESR_EL1 in x24 and FAR_EL1 in x25, and returns past the faulting instruction.
 */
const VECTORS_SKIP = `
	.balign	2048
vectors:
	.skip	0x200
	add	x23, x23, #1
	mrs	x24, esr_el1
	mrs	x25, far_el1
	mrs	x26, elr_el1
	add	x26, x26, #4
	msr	elr_el1, x26
	eret
`;

const POWER_OFF = `
	ldr	x0, =0x84000008		/* PSCI SYSTEM_OFF */
	hvc	#0
	b	.
	.ltorg
`;

describe("arm64 review", () => {
  /*
   * Arm ARM D5.4 (memory access control, stage 1 AP[2:1]): AP[2:1] = 0b10 makes a page read-only
   * at EL1; a store to it is a Permission fault (DABT, WnR = 1), whatever was accessed before.
   *
   * Mmu.translate (runtime/arm64/mmu.ts, `const key = page * 8 + kind + el`) keys its TLB with a
   * double: for an upper-range VA (bit 63 set) page * 8 is above 2^54, where doubles are spaced
   * by 4, so read/EL1 (0), read/EL0 (1) and write/EL1 (2) all round to one key, and write/EL0
   * (3), fetch/EL1 (4) and fetch/EL0 (5) to another. A store after a load hits the load's entry
   * and skips the write-permission check (EL0 accesses likewise skip the EL1-only check).
   */
  test("upper-range VA: a store to a read-only page after a load from it is a Permission fault", () => {
    const src = `
_start:
	adr	x1, vectors
	msr	vbar_el1, x1
	ldr	x1, =0x40100000		/* TTBR0: identity, RW (code and data) */
	ldr	x2, =0x40000401
	str	x2, [x1, #8]
	ldr	x9, =0x40101000		/* TTBR1: 0xffffff8040000000 -> 0x40000000, EL1 read-only */
	ldr	x2, =0x40000481		/* block, AF, AP[2:1] = 0b10 */
	str	x2, [x9, #8]
	dsb	sy
	ldr	x2, =0x80190019		/* T0SZ = T1SZ = 25, TG0 4K, TG1 4K */
	msr	tcr_el1, x2
	mov	x2, #0xff
	msr	mair_el1, x2
	msr	ttbr0_el1, x1
	msr	ttbr1_el1, x9
	isb
	mrs	x2, sctlr_el1
	ldr	x3, =0x1005
	orr	x2, x2, x3
	msr	sctlr_el1, x2
	isb
	ldr	x3, =0xffffff8040200000
	ldr	x5, [x3]		/* a load first: fills the TLB */
	mov	x4, #0x77
	str	x4, [x3]		/* must fault: read-only */
	ldr	x6, [x3]
${POWER_OFF}
${VECTORS_SKIP}
`;
    for (const jit of [true, false]) {
      const m = boot(src, jit);
      runToOff(m);
      expect(m.readRegister("x23"), `jit ${jit}: exceptions taken`).toBe(1n);
      expect(hex(m.readRegister("x24")), `jit ${jit}: ESR_EL1 (DABT_CUR, WnR, permission fault level 1)`).toBe("0x9600004d");
      expect(m.readRegister("x25")).toBe(0xffff_ff80_4020_0000n);
      expect(m.readRegister("x6"), `jit ${jit}: memory unchanged`).toBe(0n);
    }
  });

  /*
   * Arm ARM D13.2 NZCV (and C6.2 MRS): N, Z, C, V are bits 31:28 and bits 63:32 are RES0, so
   * MRS Xt, NZCV with N = 1 reads 0x80000000, not a sign-extended value.
   *
   * A64Cpu.readSysregValue (runtime/arm64/cpu.ts:318) returns BigInt(s.nzcv << 28): a 32-bit
   * shift that goes negative when N is set, and writeX keeps it as 0xffffffff80000000.
   * (QEMU agrees with the rule: `ccmp`/`cmp` then `mrs` differs from exitlab only when N = 1.)
   */
  test("MRS Xt, NZCV with N set reads 0x80000000 (bits 63:32 RES0)", () => {
    const src = `
_start:
	mov	x1, #0
	cmp	x1, #1			/* N = 1, C = 0 */
	mrs	x2, nzcv
	mov	x3, #0xf0000000
	msr	nzcv, x3
	mrs	x4, nzcv
${POWER_OFF}
`;
    for (const jit of [true, false]) {
      const m = boot(src, jit);
      runToOff(m);
      expect(hex(m.readRegister("x2")), `jit ${jit}`).toBe("0x80000000");
      expect(hex(m.readRegister("x4")), `jit ${jit}`).toBe("0xf0000000");
    }
  });

  /*
   * Arm ARM J1 pseudocode AArch64.ExceptionReturn: ERET calls ClearExclusiveLocal(ProcessorID()),
   * so a Store-Exclusive after an exception return without a new Load-Exclusive fails (status 1).
   * (QEMU likewise: HELPER(exception_return) sets exclusive_addr = -1.)
   *
   * A64Cpu.eret (runtime/arm64/cpu.ts:421) leaves the monitor of table/system.ts as it was.
   */
  test("ERET clears the local exclusive monitor: STXR after an exception return fails", () => {
    const src = `
_start:
	adr	x1, vectors
	msr	vbar_el1, x1
	adr	x2, data
	ldxr	x3, [x2]
	svc	#0			/* taken to EL1 and returned from by ERET */
	stxr	w4, x3, [x2]		/* must fail: w4 = 1 */
	ldxr	x3, [x2]
	stxr	w5, x3, [x2]		/* control: succeeds, w5 = 0 */
${POWER_OFF}
	.balign	2048
vectors:
	.skip	0x200
	add	x23, x23, #1
	eret				/* ELR_EL1 of SVC is the next instruction */
	.balign	64
data:	.quad	0x1234
`;
    for (const jit of [true, false]) {
      const m = boot(src, jit);
      runToOff(m);
      expect(m.readRegister("x23")).toBe(1n);
      expect(m.readRegister("x5"), `jit ${jit}: control`).toBe(0n);
      expect(m.readRegister("x4"), `jit ${jit}: STXR status after ERET`).toBe(1n);
    }
  });

  /*
   * Arm ARM B2.5.2 (alignment of data accesses) and the pseudocode AArch64.CheckAlignment: a
   * Load-/Store-Exclusive or Load-Acquire/Store-Release to an address not aligned to its size is
   * an Alignment fault (DFSC 0b100001) whatever SCTLR_EL1.A says (ARMv8.0: no FEAT_LSE2 here).
   *
   * (Was: nothing checked alignment. Now A64MemAccess.mustAlign marks these accesses and
   * A64Cpu.checkAlignment / SoftTlb's unaligned path raise the fault.)
   */
  test("LDXR and LDAR of an unaligned doubleword are Alignment faults", () => {
    const src = `
_start:
	adr	x1, vectors
	msr	vbar_el1, x1
	adr	x2, data
	add	x2, x2, #4
	ldxr	x3, [x2]		/* must fault */
	ldar	x4, [x2]		/* must fault */
${POWER_OFF}
	.balign	64
data:	.quad	0x1111111122222222, 0x3333333344444444
${VECTORS_SKIP}
`;
    for (const jit of [true, false]) {
      const m = boot(src, jit);
      runToOff(m);
      expect(m.readRegister("x23"), `jit ${jit}: exceptions taken`).toBe(2n);
      const esr = m.readRegister("x24");
      expect(Number(esr >> 26n), "EC = DABT_CUR").toBe(0x25);
      expect(Number(esr & 0x3fn), "DFSC = alignment fault").toBe(0b100001);
      expect(m.readRegister("x3")).toBe(0n);
      expect(m.readRegister("x4")).toBe(0n);
    }
  });

  /*
   * Arm ARM D1.8.2 (SP alignment checking): with SCTLR_EL1.SA = 1 a load or store whose base
   * register is SP, with SP not 16-byte aligned, generates an SP alignment fault (EC 0x26).
   * KVM's reset SCTLR_EL1 (0x00C50078, A64Cpu constructor) has SA = 1.
   *
   * (Was: nothing checked it. Now the templates with Rn = 31 call Gen.checkSp, and the exec
   * forms A64Env.checkSpAlignment.)
   */
  test("a load with a misaligned SP base is an SP alignment fault when SCTLR_EL1.SA = 1", () => {
    const src = `
_start:
	adr	x1, vectors
	msr	vbar_el1, x1
	mrs	x2, sctlr_el1
	ubfx	x20, x2, #3, #1		/* SA */
	adr	x1, data
	add	x1, x1, #8
	mov	sp, x1			/* SP = 8 mod 16 */
	ldr	x3, [sp]		/* must fault */
	mov	x1, sp
${POWER_OFF}
	.balign	64
data:	.quad	0x1111, 0x2222
${VECTORS_SKIP}
`;
    for (const jit of [true, false]) {
      const m = boot(src, jit);
      runToOff(m);
      expect(m.readRegister("x20"), "SCTLR_EL1.SA").toBe(1n);
      expect(m.readRegister("x23"), `jit ${jit}: exceptions taken`).toBe(1n);
      expect(Number(m.readRegister("x24") >> 26n), "EC = SP alignment fault").toBe(0x26);
      expect(m.readRegister("x3")).toBe(0n);
    }
  });
});
