// The ARMv8 generic timer of one vCPU as data and a small model: the EL1 virtual and physical
// timers (CNTV_*, CNTP_*), their control layout, the PPIs they raise, and the CNTHCTL_EL2 trap
// rules KVM programs. Counts derive from the VM's modelled time (core/clock.ts) at CNTFRQ_EL0.
// Sources: Arm ARM (DDI 0487) D11.2 "The AArch64 view of the Generic Timer" (TimerConditionMet:
// CVAL ≤ count; TVAL = CVAL − count as a signed 32-bit value), D13.8 CNTV_CTL_EL0/CNTP_CTL_EL0
// (ENABLE 0, IMASK 1, ISTATUS 2), D13.8 CNTHCTL_EL2 (E2H = 0: EL1PCTEN 0, EL1PCEN 1), the
// mach-virt device tree's timer node (QEMU hw/arm/virt.c: PPIs 13 secure, 14 physical, 11 virtual,
// 10 hypervisor → INTIDs 29, 30, 27, 26).

import type { BitLayout } from "../core/bitfields.js";
import type { VirtualClock } from "../core/clock.js";
import { MASK32, MASK64 } from "../core/bits.js";

/** CNTx_CTL_EL0 (Arm ARM D13.8). */
export const CNT_CTL: BitLayout = {
  name: "CNTx_CTL_EL0",
  source: "Arm ARM D13.8 CNTV_CTL_EL0, CNTP_CTL_EL0",
  fields: [
    { name: "enable", lsb: 0, width: 1, doc: "the timer is enabled" },
    { name: "imask", lsb: 1, width: 1, doc: "the timer's interrupt is masked" },
    { name: "istatus", lsb: 2, width: 1, doc: "the timer condition is met (read-only)" },
  ],
};

/** CNTHCTL_EL2 with HCR_EL2.E2H = 0 (Arm ARM D13.8): what EL1/EL0 may touch without trapping. */
export const CNTHCTL_EL2: BitLayout = {
  name: "CNTHCTL_EL2",
  source: "Arm ARM D13.8 CNTHCTL_EL2 (E2H = 0)",
  fields: [
    { name: "el1pcten", lsb: 0, width: 1, doc: "0: EL1/EL0 reads of CNTPCT_EL0 trap to EL2" },
    { name: "el1pcen", lsb: 1, width: 1, doc: "0: EL1/EL0 accesses to CNTP_CTL/CVAL/TVAL_EL0 trap to EL2" },
    { name: "evnten", lsb: 2, width: 1, doc: "event stream enable" },
  ],
};

/**
 * The timer trap rules: an EL1 access to one of `regs` traps to EL2 (EC 0x18) while CNTHCTL_EL2's
 * `bit` is 0. The sysreg table names the group in its `trap` column; el2.ts reads this table.
 */
export const TIMER_TRAPS = [
  { group: "el1pcten", bit: 0, regs: ["CNTPCT_EL0"] },
  { group: "el1pcen", bit: 1, regs: ["CNTP_CTL_EL0", "CNTP_CVAL_EL0", "CNTP_TVAL_EL0"] },
] as const;

/**
 * CNTHCTL_EL2 as KVM programs it on a non-VHE host (Linux v4.1 arch/arm64/kvm/hyp.S
 * __kvm_vcpu_run: "Allow physical counter access, trap the physical timer"; today
 * arch/arm64/kvm/arch_timer.c timer_set_traps, the same without ECV): EL1PCTEN = 1, EL1PCEN = 0.
 */
export const KVM_CNTHCTL = 0x1n;

export interface TimerDef {
  name: "vtimer" | "ptimer";
  /** Register prefix: CNTV or CNTP. */
  prefix: "CNTV" | "CNTP";
  /** The INTID of its PPI on mach-virt (QEMU hw/arm/virt.c ARCH_TIMER_*_IRQ + 16). */
  intid: number;
  doc: string;
}

/** The EL1 timers (Arm ARM D11.2.4): the order `show timer` lists them. */
export const TIMERS: readonly TimerDef[] = [
  { name: "vtimer", prefix: "CNTV", intid: 27, doc: "EL1 virtual timer: compares with CNTVCT_EL0 = CNTPCT_EL0 − CNTVOFF_EL2; the guest owns it directly" },
  { name: "ptimer", prefix: "CNTP", intid: 30, doc: "EL1 physical timer: compares with CNTPCT_EL0; trapped by CNTHCTL_EL2.EL1PCEN and emulated by KVM" },
];

/** One EL1 timer: CTL and CVAL; ISTATUS and TVAL computed from the count when read. */
export class ArchTimer {
  ctl = 0;
  cval = 0n;
  /** Its deadline went off (an IRQ exit was taken for it); cleared when the guest reprograms it. */
  fired = false;

  constructor(
    readonly def: TimerDef,
    private readonly count: () => bigint,
  ) {}

  get enabled(): boolean {
    return (this.ctl & 1) !== 0;
  }

  /** TimerConditionMet: enabled and CVAL ≤ count (Arm ARM D11.2.4). */
  conditionMet(): boolean {
    return this.enabled && this.count() >= this.cval;
  }

  /** The timer's interrupt output: condition met and not masked. */
  output(): boolean {
    return (this.ctl & 2) === 0 && this.conditionMet();
  }

  /** CNTx_CTL_EL0 as read: ENABLE, IMASK and ISTATUS. */
  readCtl(): bigint {
    return BigInt(this.ctl | (this.conditionMet() ? 4 : 0));
  }

  writeCtl(v: bigint): void {
    this.ctl = Number(v & 3n);
    this.fired = false;
  }

  writeCval(v: bigint): void {
    this.cval = v & MASK64;
    this.fired = false;
  }

  /** TVAL: (CVAL − count) as a signed 32-bit value, bits 63:32 RES0. */
  readTval(): bigint {
    return (this.cval - this.count()) & MASK32;
  }

  /** Writing TVAL sets CVAL = count + SignExtend(TVAL[31:0]). */
  writeTval(v: bigint): void {
    const t = v & MASK32;
    const signed = t >= 0x8000_0000n ? t - 0x1_0000_0000n : t;
    this.writeCval((this.count() + signed) & MASK64);
  }

  /** The count value at which it fires, when enabled and unmasked and not yet taken. */
  fireAt(): bigint | null {
    if ((this.ctl & 3) !== 1 || this.fired) return null;
    return this.cval;
  }
}

/**
 * The generic timer of one vCPU: the counter at CNTFRQ_EL0 from the VM's clock, CNTVOFF_EL2, and
 * the two EL1 timers. `changed` is called after every write (the machine reschedules its
 * deadlines and cuts the running chunk).
 */
export class GenericTimer {
  cntvoff = 0n;
  readonly vtimer: ArchTimer;
  readonly ptimer: ArchTimer;
  readonly timers: readonly ArchTimer[];

  constructor(
    readonly clock: VirtualClock,
    /** CNTFRQ_EL0 in Hz. */
    readonly freq: () => number,
    readonly changed: () => void = () => {},
  ) {
    this.vtimer = new ArchTimer(TIMERS[0]!, () => this.virtualCount());
    this.ptimer = new ArchTimer(TIMERS[1]!, () => this.physicalCount());
    this.timers = [this.vtimer, this.ptimer];
  }

  physicalCount(): bigint {
    return this.clock.ticks(this.freq());
  }

  virtualCount(): bigint {
    return (this.physicalCount() - this.cntvoff) & MASK64;
  }

  /** The cycle at which timer `t` fires, or null. */
  deadline(t: ArchTimer): number | null {
    const at = t.fireAt();
    if (at === null) return null;
    const phys = t === this.vtimer ? at + this.cntvoff : at;
    return this.clock.cycleOfTick(phys, this.freq());
  }

  private timerOf(name: string): ArchTimer | undefined {
    return name.startsWith("CNTV_") ? this.vtimer : name.startsWith("CNTP_") ? this.ptimer : undefined;
  }

  /** A timer register's value (CNTx_CTL/CVAL/TVAL_EL0, CNTVOFF_EL2), or undefined for other names. */
  read(name: string): bigint | undefined {
    if (name === "CNTVOFF_EL2") return this.cntvoff;
    const t = this.timerOf(name);
    if (!t) return undefined;
    if (name.endsWith("_CTL_EL0")) return t.readCtl();
    if (name.endsWith("_CVAL_EL0")) return t.cval;
    if (name.endsWith("_TVAL_EL0")) return t.readTval();
    return undefined;
  }

  /** Write a timer register; false when `name` is not one. */
  write(name: string, v: bigint): boolean {
    if (name === "CNTVOFF_EL2") {
      this.cntvoff = v & MASK64;
      this.vtimer.fired = false;
    } else {
      const t = this.timerOf(name);
      if (!t) return false;
      if (name.endsWith("_CTL_EL0")) t.writeCtl(v);
      else if (name.endsWith("_CVAL_EL0")) t.writeCval(v);
      else if (name.endsWith("_TVAL_EL0")) t.writeTval(v);
      else return false;
    }
    this.changed();
    return true;
  }
}
