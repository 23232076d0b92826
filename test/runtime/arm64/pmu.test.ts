// KVM's vPMU on the arm64 machine (runtime/arm64/kvm/pmu.ts; Linux arch/arm64/kvm/pmu-emul.c and
// sys_regs.c access_pm*): every PMU register access is a SYS64 exit (MDCR_EL2.TPM/TPMCR) emulated in
// the kernel; INST_RETIRED counts the guest's retired instructions exactly, SW_INCR counts PMSWINC
// writes and wraps at 32 bits setting the overflow flag (and counting CHAIN on the odd counter above), CPU_CYCLES and PMCCNTR_EL0 advance with
// modelled time, a counter beyond PMCR_EL0.N is undefined; a 2015 KVM read them as zero (trap_raz_wi).

import { describe, expect, test } from "vitest";
import { createArm64Machine, type Arm64Machine } from "../../../runtime/arm64/machine.js";

const SYS64 = 0x18;

const GUEST = `
_start:
	adr	x1, vectors
	msr	vbar_el1, x1
	mov	x23, #0
	mrs	x2, pmcr_el0			/* IMP, IDCODE, N */
	mrs	x3, pmceid0_el0
	mov	x1, #0x8			/* INST_RETIRED */
	msr	pmevtyper0_el0, x1
	mov	x1, #0x0			/* SW_INCR */
	msr	pmevtyper1_el0, x1
	ldr	x1, =0x80000003			/* counters 0, 1 and the cycle counter */
	msr	pmcntenset_el0, x1
	mov	x1, #0x47			/* E, P, C, LC */
	msr	pmcr_el0, x1
	mov	x4, #10
1:	subs	x4, x4, #1			/* 2 x 10 instructions */
	b.ne	1b
	msr	pmcr_el0, xzr			/* stop: 1 + 20 + 1 instructions after PMCR.E was set */
	mrs	x5, pmevcntr0_el0
	mrs	x6, pmccntr_el0
	mov	x1, #0x47
	msr	pmcr_el0, x1
	mov	x1, #0xfffffffe
	msr	pmevcntr1_el0, x1
	mov	x1, #2
	msr	pmswinc_el0, x1
	msr	pmswinc_el0, x1
	msr	pmswinc_el0, x1
	mrs	x7, pmevcntr1_el0
	mrs	x8, pmovsclr_el0
	mrs	x9, pmevcntr6_el0		/* beyond N = 6: undefined */
	mov	x1, #0x1e			/* CHAIN on counter 3, SW_INCR on counter 2 */
	msr	pmevtyper3_el0, x1
	msr	pmevtyper2_el0, xzr
	mov	x1, #0xffffffff
	msr	pmevcntr2_el0, x1
	mov	x1, #0xc
	msr	pmcntenset_el0, x1
	mov	x1, #4
	msr	pmswinc_el0, x1			/* counter 2 wraps: counter 3 counts one CHAIN */
	mrs	x10, pmevcntr3_el0
	mrs	x11, pmevcntr2_el0
	ldr	x0, =0x84000008
	hvc	#0
	b	.
	.ltorg
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

function run(era: "2015" | "today", jit: boolean): Arm64Machine {
  const m = createArm64Machine({ guest: { source: GUEST }, settings: { jit, era, stepLimit: 100_000 } });
  const r = m.run({ maxSteps: 50_000 });
  expect(r.stop, r.message).toBe("halted");
  return m;
}

describe.each([false, true])("vPMU (jit %s)", (jit) => {
  test("today: PMCR_EL0 of a Cortex-A57 with 6 counters; INST_RETIRED exact, cycles advance, SW_INCR wraps at 32 bits", () => {
    const m = run("today", jit);
    const x = (n: number) => m.readRegister(`x${n}`);
    expect(x(2)).toBe(0x4101_3000n | 0x40n);
    expect(x(3)).toBe((1n << 0n) | (1n << 8n) | (1n << 0x11n) | (1n << 0x1en));
    // From the instruction after the MSR that set PMCR.E up to and including the MSR that cleared it.
    expect(x(5)).toBe(21n);
    expect(x(6)).toBeGreaterThanOrEqual(21n);
    expect(x(7)).toBe(1n); // 0xfffffffe + 3 SW_INCR wraps at 32 bits
    expect(x(8)).toBe(2n); // the overflow flag of counter 1
    expect([x(10), x(11)]).toEqual([1n, 0n]); // the even counter's overflow is the odd one's CHAIN event
    expect(Number(m.readRegister("x23"))).toBe(1);
    expect(Number(m.readRegister("x22") >> 26n)).toBe(0); // undefined instruction injected
    // Every PMU access is a SYS64 exit handled by KVM.
    const sys = m.exits.filter((e) => e.reason === "SYS64");
    expect(sys.length).toBe(17 + 7);
    expect(sys.every((e) => (BigInt(e.info.esr as bigint) >> 26n) === BigInt(SYS64))).toBe(true);
  });

  test("2015: the PMU registers trap and read as zero (trap_raz_wi)", () => {
    const m = run("2015", jit);
    for (const n of [2, 3, 5, 6, 7, 8, 9, 10, 11]) expect(m.readRegister(`x${n}`), `x${n}`).toBe(0n);
    expect(Number(m.readRegister("x23"))).toBe(0);
  });
});
