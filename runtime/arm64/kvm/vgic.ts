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

/** What the vGIC needs of each vCPU: its timer, its vIRQ line, and a way to stop it for a physical interrupt. */
export interface VgicVcpu {
  timer: GenericTimer;
  /** vIRQ line to the CPU. */
  onVirq: (asserted: boolean) => void;
  /** A physical interrupt became pending for this vCPU while it runs (the machine cuts its run and exits). */
  onPhysical: () => void;
}

export class Vgic {
  readonly dist: VgicDist;
  /** The CPU interface of the loaded vCPU (`load`). */
  cpuif: VirtualCpuInterface;
  /** The loaded vCPU's physical interrupts waiting to reach the host (an IRQ exit at its next instruction boundary), by INTID. */
  physical: Set<number>;
  /** The loaded vCPU's timer. */
  timer: GenericTimer;
  /** Per vCPU: CPU interface, physical interrupts pending, list registers in use. */
  readonly cpuifs: VirtualCpuInterface[];
  readonly physicals: Set<number>[];
  private readonly lrsInUse: boolean[];
  /** Counters for `show gic`. */
  readonly stats = { injected: 0, maintenance: 0, eoiExitless: 0, sgis: 0 };
  /**
   * kvm_vgic_inject_irq was called: `vcpu` the target's index (0 for an SPI, as KVM passes no
   * vcpu for one), `intid`, the line's new `level`. The machine traces vgic_update_irq_pending
   * from it (Linux 4.7+ virt/kvm/arm/vgic/vgic.c kvm_vgic_inject_irq).
   */
  onInject: ((vcpu: number, intid: number, level: boolean) => void) | null = null;

  constructor(
    readonly version: GicVersion,
    readonly era: () => KvmEra,
    readonly vcpus: readonly VgicVcpu[],
    /** An SGI became pending for vCPU `v` (KVM kicks a running target, wakes a blocked one). */
    onSgi: (v: number) => void = () => {},
  ) {
    this.dist = new VgicDist(version, era, () => this.syncTimers(), vcpus.length, onSgi);
    this.cpuifs = vcpus.map((h, v) =>
      new VirtualCpuInterface(h.onVirq, (phys) => {
        if (phys < 0) {
          // The maintenance interrupt: a physical PPI to the host, hence an IRQ exit.
          this.stats.maintenance++;
          this.raisePhysicalOn(v, MAINT_INTID);
        } else {
          // HW = 1: the physical timer interrupt is deactivated with the virtual one; the timer can fire again.
          this.stats.eoiExitless++;
          for (const t of h.timer.timers) if (t.def.intid === phys) t.fired = false;
          h.timer.changed();
        }
      }),
    );
    this.physicals = vcpus.map(() => new Set<number>());
    this.lrsInUse = vcpus.map(() => false);
    this.cpuif = this.cpuifs[0]!;
    this.physical = this.physicals[0]!;
    this.timer = vcpus[0]!.timer;
  }

  /** The vCPU loaded (whose CPU interface, private interrupts and timer the methods use). */
  get cur(): number {
    return this.dist.cur;
  }

  /** Load vCPU `v`: its private interrupts, CPU interface, physical interrupts and timer. */
  load(v: number): void {
    if (v === this.dist.cur) return;
    this.lrsInUse[this.dist.cur] = this.lrsUsed;
    this.dist.load(v);
    this.cpuif = this.cpuifs[v]!;
    this.physical = this.physicals[v]!;
    this.timer = this.vcpus[v]!.timer;
    this.lrsUsed = this.lrsInUse[v]!;
  }

  /** `fn` with vCPU `v` loaded, then the vCPU loaded before. */
  withVcpu<T>(v: number, fn: () => T): T {
    const was = this.dist.cur;
    if (v === was) return fn();
    this.load(v);
    try {
      return fn();
    } finally {
      this.load(was);
    }
  }

  raisePhysical(intid: number): void {
    this.raisePhysicalOn(this.dist.cur, intid);
  }

  /** A physical interrupt for vCPU `v` (its timer, the maintenance interrupt, a kick: -1). */
  raisePhysicalOn(v: number, intid: number): void {
    this.physicals[v]!.add(intid);
    this.vcpus[v]!.onPhysical();
  }

  /** The loaded vCPU's timers' outputs onto their PPIs' lines (kvm_timer_sync_hwstate → kvm_vgic_inject_irq). */
  syncTimers(): void {
    for (const t of this.timer.timers) {
      const i = t.def.intid;
      if (t.ctl === 0 && this.dist.level[i] === 0) continue; // disabled and low: nothing to sample
      const high = t.output();
      if ((this.dist.level[i] === 1) !== high) {
        // kvm_timer_update_irq → kvm_vgic_inject_irq, only when the timer's output changes.
        this.onInject?.(this.dist.cur, i, high);
        this.dist.setLevel(i, high);
      }
    }
  }

  /** A VMM-side interrupt line (KVM_IRQ_LINE): level high or low; an edge interrupt latches on high. */
  injectLine(intid: number, level: boolean): void {
    this.onInject?.(intid < 32 ? this.dist.cur : 0, intid, level);
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
        if (lr.state & 1) {
          d.latch[i] = 1;
          if (i < 16 && this.version === "v2") d.sgiSources[i]! |= 1 << lr.source;
        }
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
      // An SPI goes to the vCPU it targets (GICv2 ITARGETSR, GICv3 IROUTER): vgic_target_oracle.
      const pending = d.isPending(i) && d.enabled[i] === 1 && distOn && (i < 32 || d.spiTarget(i) === d.cur);
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
        if (i < 16 && this.version === "v2" && d.sgiSources[i]) {
          // GICv2: one LR per source CPU (GICH_LR CPUID), the lowest first; the others stay pending.
          const src = 31 - Math.clz32(d.sgiSources[i]! & -d.sgiSources[i]!);
          lr.source = src;
          d.sgiSources[i]! &= ~(1 << src);
          if (d.sgiSources[i]) d.latch[i] = 1;
        } else if (i < 16) d.sgiSources[i] = 0;
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
    const smp = this.vcpus.length > 1;
    for (let i = 0; i < NR_IRQS; i++) if (d.isPending(i) && d.enabled[i] && d.priority[i]! < this.cpuif.pmr && (i < 32 || !smp || d.spiTarget(i) === d.cur)) return true;
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
   * Aff3 55:48, Aff2 39:32, Aff1 23:16, TargetList 15:0 (Aff0 of each target; IHI 0069H 12.2.21).
   * vCPU n has affinity 0.0.(n >> 4).(n & 15) (KVM's reset_mpidr).
   */
  sgi1r(v: bigint): void {
    const intid = Number((v >> 24n) & 0xfn);
    const irm = (v >> 40n) & 1n;
    const aff1 = Number((v >> 16n) & 0xffn), list = Number(v & 0xffffn);
    const high = Number((v >> 32n) & 0xffn) | Number((v >> 48n) & 0xffn);
    const self = this.dist.cur;
    this.stats.sgis++;
    for (let t = 0; t < this.vcpus.length; t++) {
      const hit = irm === 1n ? t !== self : high === 0 && aff1 === t >> 4 && (list & (1 << (t & 15))) !== 0;
      if (hit) this.dist.sendSgi(intid, self, t);
    }
  }
}
