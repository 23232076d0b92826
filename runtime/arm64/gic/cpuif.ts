// The GIC's virtual CPU interface of one vCPU — hardware that the guest uses without exiting: the
// list registers KVM fills (GICH_LR<n> on GICv2, ICH_LR<n>_EL2 on GICv3), and the guest's view of
// them: GICV (mapped by KVM at the guest's GICC address, GICv2) or the ICC_* system registers
// redirected to ICV_* (GICv3, ICH_HCR_EL2.En). Acknowledge (IAR), priority drop and deactivation
// (EOIR), the priority mask (PMR), group enables. A deactivation of a list register with HW = 1
// deactivates the physical interrupt (KVM's mapped timer interrupt); with EOI = 1 it raises the
// maintenance interrupt. Sources: Arm IHI 0048B (GICv2) 5.3 "GIC virtual interface control
// registers" (GICH_LR, Table 5-9), 5.4 "GIC virtual CPU interface registers" (GICV_*); Arm IHI
// 0069H (GICv3) 12.4 ICH_LR<n>_EL2, 12.2 ICC_* / ICV_*.

import type { BitLayout } from "../../core/bitfields.js";

/** GICH_LR<n> (GICv2, IHI 0048B Table 5-9). */
export const GICH_LR: BitLayout = {
  name: "GICH_LR",
  source: "Arm IHI 0048B 5.3.11 GICH_LRn",
  fields: [
    { name: "virtualid", lsb: 0, width: 10, doc: "the virtual INTID the guest acknowledges" },
    { name: "physicalid", lsb: 10, width: 10, doc: "HW = 1: the physical INTID deactivated with it; HW = 0: bit 19 = EOI (maintenance interrupt on EOI), bits 12:10 = the SGI's source CPU" },
    { name: "priority", lsb: 23, width: 5, doc: "priority bits 7:3" },
    { name: "state", lsb: 28, width: 2, values: ["invalid", "pending", "active", "pending+active"], doc: "state of the virtual interrupt" },
    { name: "grp1", lsb: 30, width: 1, doc: "group 1 (signalled as IRQ)" },
    { name: "hw", lsb: 31, width: 1, doc: "a hardware interrupt: deactivating the virtual one deactivates the physical one" },
  ],
};

/** ICH_LR<n>_EL2 (GICv3, IHI 0069H 12.4.6). */
export const ICH_LR: BitLayout = {
  name: "ICH_LR<n>_EL2",
  source: "Arm IHI 0069H 12.4.6 ICH_LR<n>_EL2",
  fields: [
    { name: "vintid", lsb: 0, width: 32, doc: "the virtual INTID" },
    { name: "pintid", lsb: 32, width: 10, doc: "HW = 1: the physical INTID; HW = 0: bit 41 = EOI (maintenance interrupt on EOI)" },
    { name: "priority", lsb: 48, width: 8, doc: "priority" },
    { name: "group", lsb: 60, width: 1, doc: "group 1" },
    { name: "hw", lsb: 61, width: 1, doc: "a hardware interrupt" },
    { name: "state", lsb: 62, width: 2, values: ["invalid", "pending", "active", "pending+active"], doc: "state" },
  ],
};

/** List registers of the modelled GIC (Cortex-A57's GIC-400 / GICv3 CPU interface: ListRegs = 3, four LRs). */
export const NR_LRS = 4;
/** The special INTID of no pending interrupt (IHI 0048B 3.2.5). */
export const SPURIOUS = 1023;

export interface ListRegister {
  intid: number;
  /** 0 invalid, 1 pending, 2 active, 3 pending and active. */
  state: number;
  priority: number;
  hw: boolean;
  /** Raise the maintenance interrupt when the guest deactivates it (level-sensitive, HW = 0). */
  eoi: boolean;
  /** GICv2 SGI: the source CPU. */
  source: number;
}

export class VirtualCpuInterface {
  readonly lrs: ListRegister[] = Array.from({ length: NR_LRS }, () => ({ intid: 0, state: 0, priority: 0, hw: false, eoi: false, source: 0 }));
  /** GICV_CTLR.EnableGrp0 (v2) / ICC_IGRPEN1_EL1 (v3): signalling enabled. */
  enabled = false;
  pmr = 0;
  bpr = 2;
  /** Active priorities, innermost last (the running priority is the last). */
  readonly activePriorities: number[] = [];
  /** ICH_MISR_EL2.EOI / GICH_MISR.EOI: an LR with EOI = 1 was deactivated; cleared when KVM handles it. */
  eoiMaintenance = false;
  /** A virtual IRQ is signalled to the PE (IHI 0048B 5.2: the highest-priority pending LR can preempt). */
  virq = false;

  constructor(
    /** The vIRQ line changed: the CPU takes it at its next block boundary once PSTATE.I is clear. */
    readonly onVirq: (asserted: boolean) => void,
    /** The guest deactivated an LR with HW = 1 (physical INTID) or EOI = 1 (maintenance interrupt, intid -1). */
    readonly onDeactivate: (physical: number) => void,
  ) {}

  get runningPriority(): number {
    return this.activePriorities.length ? this.activePriorities[this.activePriorities.length - 1]! : 0x100;
  }

  /** The LR of the highest-priority pending interrupt that could be signalled, or -1. */
  highestPending(): number {
    let best = -1;
    for (let i = 0; i < NR_LRS; i++) {
      const lr = this.lrs[i]!;
      if ((lr.state & 1) === 0 || lr.state === 3) continue;
      if (best < 0 || lr.priority < this.lrs[best]!.priority) best = i;
    }
    return best;
  }

  /** Recompute the vIRQ line: enabled, the best pending priority below PMR and the running priority. */
  update(): void {
    const i = this.highestPending();
    const on = this.enabled && i >= 0 && this.lrs[i]!.priority < this.pmr && this.lrs[i]!.priority < this.runningPriority;
    if (on !== this.virq) {
      this.virq = on;
      this.onVirq(on);
    }
  }

  /** GICV_IAR / ICV_IAR1_EL1: acknowledge the highest-priority pending interrupt (pending → active). */
  acknowledge(): number {
    const i = this.highestPending();
    if (i < 0 || !this.enabled || this.lrs[i]!.priority >= this.pmr || this.lrs[i]!.priority >= this.runningPriority) return SPURIOUS;
    const lr = this.lrs[i]!;
    lr.state = 2;
    this.activePriorities.push(lr.priority);
    this.update();
    return lr.intid < 16 ? lr.intid | (lr.source << 10) : lr.intid;
  }

  /** GICV_HPPIR / ICV_HPPIR1_EL1: the highest-priority pending interrupt without acknowledging it. */
  highestPendingId(): number {
    const i = this.highestPending();
    return i < 0 ? SPURIOUS : this.lrs[i]!.intid;
  }

  /** GICV_EOIR / ICV_EOIR1_EL1 with EOImode 0: priority drop and deactivation. */
  endOfInterrupt(value: number): void {
    const intid = value & 0x3ff;
    if (intid >= 1020) return;
    this.activePriorities.pop();
    const lr = this.lrs.find((l) => l.state & 2 && l.intid === intid);
    if (lr) {
      lr.state &= 1;
      if (lr.state === 0) {
        if (lr.hw) this.onDeactivate(lr.intid);
        else if (lr.eoi) {
          this.eoiMaintenance = true;
          this.onDeactivate(-1);
        }
      }
    }
    this.update();
  }

  /** The LR's value as the hardware register holds it (for `show gic`). */
  encode(i: number, v3: boolean): bigint {
    const lr = this.lrs[i]!;
    if (v3) {
      const pintid = lr.hw ? BigInt(lr.intid) : lr.eoi ? 1n << 9n : 0n;
      return BigInt(lr.intid) | (pintid << 32n) | (BigInt(lr.priority) << 48n) | (1n << 60n) | ((lr.hw ? 1n : 0n) << 61n) | (BigInt(lr.state) << 62n);
    }
    const phys = lr.hw ? lr.intid : (lr.eoi ? 1 << 9 : 0) | (lr.intid < 16 ? lr.source : 0);
    return BigInt((lr.intid | (phys << 10) | ((lr.priority >> 3) << 23) | (lr.state << 28) | ((lr.hw ? 1 : 0) << 31)) >>> 0);
  }

  /** GICV (GICv2 virtual CPU interface, at the guest's GICC address): IHI 0048B Table 5-11. */
  readMmio(offset: number): number {
    switch (offset) {
      case 0x00: return this.enabled ? 1 : 0; // GICV_CTLR
      case 0x04: return this.pmr; // GICV_PMR
      case 0x08: return this.bpr; // GICV_BPR
      case 0x0c: return this.acknowledge(); // GICV_IAR
      case 0x14: return this.runningPriority & 0xff; // GICV_RPR
      case 0x18: return this.highestPendingId(); // GICV_HPPIR
      case 0xfc: return 0x0202_043b; // GICV_IIDR: GICv2, Arm
    }
    return 0;
  }

  writeMmio(offset: number, v: number): void {
    switch (offset) {
      case 0x00: this.enabled = (v & 1) !== 0; break;
      case 0x04: this.pmr = v & 0xf8; break;
      case 0x08: this.bpr = v & 7; break;
      case 0x10: this.endOfInterrupt(v); return;
    }
    this.update();
  }
}
