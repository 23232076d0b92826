// KVM's vGIC and arch timer for one vCPU: the distributor it emulates in the kernel (gic/dist.ts),
// the list registers it fills on every entry and folds back on every exit (flush_hwstate /
// sync_hwstate), the timer interrupts it injects, and what a physical interrupt arriving while the
// guest runs means (an IRQ exit). Era differences are data: `hwMappedTimer` — Linux v4.1
// (virt/kvm/arm/arch_timer.c kvm_timer_inject_irq) injects the virtual timer as a plain
// level-sensitive interrupt whose EOI raises the maintenance interrupt (another IRQ exit); since
// Linux 4.4 ("KVM: arm/arm64: Use HW bit for the timer", kvm_vgic_map_phys_irq) the LR carries
// HW = 1 and the guest's EOI deactivates the physical timer interrupt without an exit.
// Sources: Linux v4.1 virt/kvm/arm/vgic.c (vgic_flush_hwstate, vgic_sync_hwstate,
// vgic_process_maintenance), today arch/arm64/kvm/vgic/vgic.c (kvm_vgic_flush_hwstate,
// vgic_fold_lr_state) and vgic-v3.c, vgic-sys-reg-v3.c (ICC_SGI1R_EL1 trapped by HCR_EL2.IMO).

import type { KvmEra } from "../../core/trace.js";
import { VgicDist, GICC_BASE, MAINT_INTID, NR_IRQS, type GicVersion } from "../gic/dist.js";
import { NR_LRS, VirtualCpuInterface } from "../gic/cpuif.js";
import type { GenericTimer } from "../timer.js";

/** Linux v4.1 has no HW-mapped timer; 4.4 and later map it (see above). */
export const HW_MAPPED_TIMER: Record<KvmEra, boolean> = { "2015": false, today: true };

/** The GICv3 CPU-interface system registers the guest uses (IHI 0069H 12.2), with what an access does. */
export const ICC_SYSREGS = [
  "ICC_PMR_EL1", "ICC_IAR1_EL1", "ICC_EOIR1_EL1", "ICC_HPPIR1_EL1", "ICC_BPR1_EL1", "ICC_CTLR_EL1", "ICC_SRE_EL1",
  "ICC_IGRPEN1_EL1", "ICC_RPR_EL1", "ICC_DIR_EL1", "ICC_SGI1R_EL1", "ICC_IAR0_EL1", "ICC_EOIR0_EL1", "ICC_IGRPEN0_EL1", "ICC_AP1R0_EL1",
] as const;

export class Vgic {
  readonly dist: VgicDist;
  readonly cpuif: VirtualCpuInterface;
  /** Physical interrupts waiting to reach the host (an IRQ exit at the next instruction boundary), by INTID. */
  readonly physical = new Set<number>();
  /** Counters for `show gic`. */
  readonly stats = { injected: 0, maintenance: 0, eoiExitless: 0, sgis: 0 };

  constructor(
    readonly version: GicVersion,
    readonly era: () => KvmEra,
    readonly timer: GenericTimer,
    /** vIRQ line to the CPU. */
    onVirq: (asserted: boolean) => void,
    /** A physical interrupt became pending while the guest runs (the machine cuts the run and exits). */
    readonly onPhysical: () => void,
  ) {
    this.dist = new VgicDist(version, era, () => this.syncTimers());
    this.cpuif = new VirtualCpuInterface(onVirq, (phys) => {
      if (phys < 0) {
        // The maintenance interrupt: a physical PPI to the host, hence an IRQ exit.
        this.stats.maintenance++;
        this.raisePhysical(MAINT_INTID);
      } else {
        // HW = 1: the physical timer interrupt is deactivated with the virtual one; the timer can fire again.
        this.stats.eoiExitless++;
        for (const t of this.timer.timers) if (t.def.intid === phys) t.fired = false;
        this.timer.changed();
      }
    });
  }

  raisePhysical(intid: number): void {
    this.physical.add(intid);
    this.onPhysical();
  }

  /** The timers' outputs onto their PPIs' lines (kvm_timer_sync_hwstate → kvm_vgic_inject_irq). */
  syncTimers(): void {
    for (const t of this.timer.timers) {
      const i = t.def.intid;
      if (t.ctl === 0 && this.dist.level[i] === 0) continue; // disabled and low: nothing to sample
      const high = t.output();
      if ((this.dist.level[i] === 1) !== high) this.dist.setLevel(i, high);
    }
  }

  /** A VMM-side interrupt line (KVM_IRQ_LINE): level high or low; an edge interrupt latches on high. */
  injectLine(intid: number, level: boolean): void {
    this.dist.setLevel(intid, level);
    if (level) this.stats.injected++;
  }

  /** vgic_sync_hwstate on exit: fold the list registers back into the distributor and free them. */
  sync(): void {
    const d = this.dist;
    // The exit path of every trap: nothing to fold when no list register was filled (the common case).
    if (!this.lrsUsed) {
      this.syncTimers();
      return;
    }
    this.lrsUsed = false;
    d.dirty = true;
    for (const lr of this.cpuif.lrs) {
      if (lr.intid === 0 && lr.state === 0 && !lr.hw && !lr.eoi) continue;
      const i = lr.intid;
      d.active[i] = lr.state & 2 ? 1 : 0;
      if (d.edge[i]) {
        if (lr.state & 1) d.latch[i] = 1;
      } else if ((lr.state & 1) === 0) d.latch[i] = 0;
      lr.intid = 0; lr.state = 0; lr.hw = false; lr.eoi = false; lr.source = 0;
    }
    this.cpuif.eoiMaintenance = false;
    this.syncTimers();
  }

  /** The list registers hold something from the last flush (sync must fold them back). */
  private lrsUsed = false;

  /**
   * vgic_flush_hwstate on entry: the active and pending interrupts of this vCPU, active first then
   * by priority, into the list registers (up to four).
   */
  flush(): void {
    const d = this.dist;
    if (!d.dirty) return;
    d.dirty = false;
    const cands: number[] = [];
    const distOn = this.version === "v3" ? (d.ctlr & 2) !== 0 : (d.ctlr & 1) !== 0;
    for (let i = 0; i < NR_IRQS; i++) {
      const pending = d.isPending(i) && d.enabled[i] === 1 && distOn && (i < 32 || d.targets[i] || this.version === "v3");
      if (pending || d.active[i]) cands.push(i);
    }
    cands.sort((a, b) => d.active[b]! - d.active[a]! || d.priority[a]! - d.priority[b]! || a - b);
    const hwTimer = HW_MAPPED_TIMER[this.era()];
    let n = 0;
    for (const i of cands) {
      if (n >= NR_LRS) break;
      const lr = this.cpuif.lrs[n++]!;
      const pending = d.isPending(i) && d.enabled[i] === 1 && distOn;
      lr.intid = i;
      lr.state = (pending ? 1 : 0) | (d.active[i] ? 2 : 0);
      lr.priority = d.priority[i]!;
      lr.hw = hwTimer && this.timer.timers.some((t) => t.def.intid === i);
      lr.eoi = !lr.hw && d.edge[i] === 0;
      lr.source = 0;
      this.lrsUsed = true;
      // The pending state now lives in the LR (an edge interrupt's latch; an SGI's source).
      if (d.edge[i] && pending) {
        d.latch[i] = 0;
        if (i < 16) d.sgiSources[i] = 0;
      }
    }
    this.cpuif.update();
  }

  /** kvm_vgic_vcpu_pending_irq: something this vCPU could take (WFI returns at once). */
  pendingForVcpu(): boolean {
    this.syncTimers();
    const d = this.dist;
    const distOn = this.version === "v3" ? (d.ctlr & 2) !== 0 : (d.ctlr & 1) !== 0;
    if (!distOn) return false;
    for (let i = 0; i < NR_IRQS; i++) if (d.isPending(i) && d.enabled[i] && d.priority[i]! < this.cpuif.pmr) return true;
    return this.cpuif.lrs.some((lr) => lr.state === 1);
  }

  /** The GICv2 CPU interface page as KVM maps it: GICV at the guest's GICC address (no exit). */
  gicvDevice() {
    return {
      base: GICC_BASE,
      size: 0x2000,
      device: {
        name: "gic-cpu-interface (GICV)",
        read: (o: number, _s: number) => BigInt(this.cpuif.readMmio(o)),
        write: (o: number, _s: number, v: bigint) => this.cpuif.writeMmio(o, Number(v & 0xffff_ffffn)),
      },
    };
  }

  /** An ICC_* register read at EL1 (the ICV_* view), or undefined when `name` is not one. */
  readIcc(name: string): bigint | undefined {
    const c = this.cpuif;
    switch (name) {
      case "ICC_PMR_EL1": return BigInt(c.pmr);
      case "ICC_IAR1_EL1": return BigInt(c.acknowledge());
      case "ICC_HPPIR1_EL1": return BigInt(c.highestPendingId());
      case "ICC_BPR1_EL1": return BigInt(c.bpr);
      case "ICC_RPR_EL1": return BigInt(c.runningPriority & 0xff);
      case "ICC_IGRPEN1_EL1": return c.enabled ? 1n : 0n;
      // SRE, DFB, DIB set and RAO/WI: KVM offers the system-register interface only.
      case "ICC_SRE_EL1": return 7n;
      // PRIbits 10:8 = 4 (five bits), IDbits 0 (16-bit INTIDs), A3V 15.
      case "ICC_CTLR_EL1": return (4n << 8n) | (1n << 15n);
      case "ICC_IAR0_EL1": return 1023n;
      case "ICC_IGRPEN0_EL1": case "ICC_AP1R0_EL1": return 0n;
    }
    return undefined;
  }

  /** An ICC_* register write at EL1; false when `name` is not one. */
  writeIcc(name: string, v: bigint): boolean {
    const c = this.cpuif;
    switch (name) {
      case "ICC_PMR_EL1": c.pmr = Number(v & 0xf8n); break;
      case "ICC_EOIR1_EL1": c.endOfInterrupt(Number(v & 0xffffffn)); return true;
      case "ICC_BPR1_EL1": c.bpr = Number(v & 7n); break;
      case "ICC_IGRPEN1_EL1": c.enabled = (v & 1n) === 1n; break;
      case "ICC_SGI1R_EL1": this.sgi1r(v); return true;
      case "ICC_SRE_EL1": case "ICC_CTLR_EL1": case "ICC_DIR_EL1": case "ICC_EOIR0_EL1": case "ICC_IGRPEN0_EL1": case "ICC_AP1R0_EL1": return true;
      default: return false;
    }
    c.update();
    return true;
  }

  /**
   * vgic_v3_dispatch_sgi (KVM, after the trap): ICC_SGI1R_EL1 INTID 27:24, IRM 40 (all but self),
   * Aff1 23:16, TargetList 15:0 (IHI 0069H 12.2.21). One PE with affinity 0.0.0.0 here.
   */
  sgi1r(v: bigint): void {
    const intid = Number((v >> 24n) & 0xfn);
    const irm = (v >> 40n) & 1n;
    const aff1 = Number((v >> 16n) & 0xffn), list = Number(v & 0xffffn);
    this.stats.sgis++;
    if (irm === 0n && aff1 === 0 && (list & 1) !== 0) this.dist.sendSgi(intid, 0);
  }
}
