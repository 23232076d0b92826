// KVM's in-kernel emulation of the GIC distributor (GICv2 GICD, GICv3 GICD + redistributor) for
// one vCPU: the state of every interrupt (enabled, pending latch, line level, active, priority,
// group, configuration, GICv2 targets) and the MMIO registers the guest reaches through stage-2
// data aborts, which KVM handles in the kernel (io_mem_abort → the vgic's kvm_io_device; no
// KVM_EXIT_MMIO). Register offsets: GICv2 Arm IHI 0048B Table 4-1 "Distributor register map";
// GICv3 Arm IHI 0069H Table 12-25 (GICD), 12-27 (GICR RD_base), 12-29 (GICR SGI_base). Behaviour
// of KVM's emulation: Linux virt/kvm/arm/vgic (v4.1 vgic-v2-emul.c, vgic-v3-emul.c; today
// arch/arm64/kvm/vgic/vgic-mmio-v2.c, vgic-mmio-v3.c): priorities keep 5 bits (VGIC_PRI_BITS),
// GICv2 SGIs are always enabled, GICv3 ARE is RAO/WI.

import type { MmioDevice } from "../../core/bus.js";
import type { KvmEra } from "../../core/trace.js";

/** Interrupts of this model: 32 private + 256 SPIs (QEMU's mach-virt asks KVM for 288, GICD_TYPER.ITLinesNumber 8). */
export const NR_IRQS = 288;
export const GICD_BASE = 0x0800_0000, GICD_SIZE = 0x1_0000;
export const GICC_BASE = 0x0801_0000, GICC_SIZE = 0x1_0000;
export const GICR_BASE = 0x080a_0000, GICR_SIZE = 0x2_0000;
/** The INTID of the vGIC maintenance interrupt (mach-virt ARCH_GIC_MAINT_IRQ 9 + 16). */
export const MAINT_INTID = 25;
/** The arrays of VgicDist whose first 32 entries are banked per vCPU (see VgicDist.privates). */
const PRIVATE_ARRAYS = 8;
/** One redistributor's two 64 KiB frames (RD_base, SGI_base: IHI 0069H 12.10). */
export const GICR_FRAME = 0x2_0000;

/** One register of a distributor frame: its offset and length (bytes) and how the emulation treats it. */
export interface GicReg {
  name: string;
  offset: number;
  /** Bytes covered (a per-interrupt bank: the whole array). */
  length: number;
  /** Bits per interrupt for banked registers (1, 2 or 8), 0 for single registers. */
  bitsPerIrq: number;
  doc: string;
}

const r = (name: string, offset: number, length: number, bitsPerIrq: number, doc: string): GicReg => ({ name, offset, length, bitsPerIrq, doc });
const bank = (name: string, offset: number, bits: number, doc: string) => r(name, offset, (NR_IRQS * bits) / 8, bits, doc);

/** GICv2 distributor registers (IHI 0048B Table 4-1). */
export const GICD_V2_REGS: readonly GicReg[] = [
  r("GICD_CTLR", 0x000, 4, 0, "distributor control: bit 0 enables forwarding"),
  r("GICD_TYPER", 0x004, 4, 0, "ITLinesNumber 4:0, CPUNumber 7:5 (read-only)"),
  r("GICD_IIDR", 0x008, 4, 0, "implementer (read-only)"),
  bank("GICD_IGROUPR", 0x080, 1, "interrupt group"),
  bank("GICD_ISENABLER", 0x100, 1, "set-enable"),
  bank("GICD_ICENABLER", 0x180, 1, "clear-enable"),
  bank("GICD_ISPENDR", 0x200, 1, "set-pending"),
  bank("GICD_ICPENDR", 0x280, 1, "clear-pending"),
  bank("GICD_ISACTIVER", 0x300, 1, "set-active"),
  bank("GICD_ICACTIVER", 0x380, 1, "clear-active"),
  bank("GICD_IPRIORITYR", 0x400, 8, "priority, one byte per interrupt"),
  bank("GICD_ITARGETSR", 0x800, 8, "CPU targets, one byte per interrupt"),
  bank("GICD_ICFGR", 0xc00, 2, "configuration: bit 1 of each pair = edge-triggered"),
  r("GICD_SGIR", 0xf00, 4, 0, "software-generated interrupt: TargetListFilter 25:24, CPUTargetList 23:16, INTID 3:0"),
  r("GICD_ICPIDR2", 0xfe8, 4, 0, "peripheral ID 2: ArchRev 7:4 (read-only)"),
];

/** GICv3 distributor registers (IHI 0069H Table 12-25): the GICv2 banks for SPIs, IROUTER, no targets or SGIR. */
export const GICD_V3_REGS: readonly GicReg[] = [
  r("GICD_CTLR", 0x0000, 4, 0, "EnableGrp0 0, EnableGrp1 1, ARE 4 (RAO/WI), RWP 31"),
  r("GICD_TYPER", 0x0004, 4, 0, "ITLinesNumber 4:0, IDbits 23:19 (read-only)"),
  r("GICD_IIDR", 0x0008, 4, 0, "implementer (read-only)"),
  ...GICD_V2_REGS.filter((x) => x.bitsPerIrq && x.name !== "GICD_ITARGETSR"),
  r("GICD_IROUTER", 0x6000, NR_IRQS * 8, 64, "SPI routing: affinity of the target PE"),
  r("GICD_PIDR2", 0xffe8, 4, 0, "ArchRev 7:4 = 3 (read-only)"),
];

/** GICv3 redistributor RD_base (Table 12-27) and SGI_base, +0x10000 (Table 12-29), of one PE. */
export const GICR_REGS: readonly GicReg[] = [
  r("GICR_CTLR", 0x0000, 4, 0, "redistributor control"),
  r("GICR_IIDR", 0x0004, 4, 0, "implementer"),
  r("GICR_TYPER", 0x0008, 8, 0, "Affinity 63:32, Processor_Number 23:8, Last 4"),
  r("GICR_WAKER", 0x0014, 4, 0, "ProcessorSleep 1, ChildrenAsleep 2"),
  r("GICR_PIDR2", 0xffe8, 4, 0, "ArchRev 7:4 = 3"),
  r("GICR_IGROUPR0", 0x1_0080, 4, 1, "SGI/PPI group"),
  r("GICR_ISENABLER0", 0x1_0100, 4, 1, "SGI/PPI set-enable"),
  r("GICR_ICENABLER0", 0x1_0180, 4, 1, "SGI/PPI clear-enable"),
  r("GICR_ISPENDR0", 0x1_0200, 4, 1, "SGI/PPI set-pending"),
  r("GICR_ICPENDR0", 0x1_0280, 4, 1, "SGI/PPI clear-pending"),
  r("GICR_ISACTIVER0", 0x1_0300, 4, 1, "SGI/PPI set-active"),
  r("GICR_ICACTIVER0", 0x1_0380, 4, 1, "SGI/PPI clear-active"),
  r("GICR_IPRIORITYR", 0x1_0400, 32, 8, "SGI/PPI priorities"),
  r("GICR_ICFGR0", 0x1_0c00, 8, 2, "SGI/PPI configuration"),
];

export type GicVersion = "v2" | "v3";

/** KVM's GICD_IIDR (ProductID 0x4b 'K', Implementer 0x43b Arm): v4.1 revision 0; today KVM_VGIC_IMP_REV_LATEST 3. */
const IIDR: Record<KvmEra, number> = { "2015": 0x4b00_043b, today: 0x4b00_343b };
/**
 * The priority bits KVM's distributor keeps: Linux v4.1 stored the byte as written (vgic_reg_access
 * on the priority bytemap); since the new vGIC (4.7) VGIC_PRI_BITS = 5, the top five.
 */
const PRI_MASK: Record<KvmEra, number> = { "2015": 0xff, today: 0xf8 };

/** The distributor state of one VM with one vCPU. */
export class VgicDist {
  readonly enabled = new Uint8Array(NR_IRQS);
  /** The pending latch (edge: the interrupt; level: set by ISPENDR/SGI). */
  readonly latch = new Uint8Array(NR_IRQS);
  /** The input line of level-sensitive interrupts (the timers' outputs, `irq N`'s level). */
  readonly level = new Uint8Array(NR_IRQS);
  readonly active = new Uint8Array(NR_IRQS);
  readonly priority = new Uint8Array(NR_IRQS);
  readonly group = new Uint8Array(NR_IRQS);
  /** 1 = edge-triggered. */
  readonly edge = new Uint8Array(NR_IRQS);
  readonly targets = new Uint8Array(NR_IRQS);
  /** GICv2 SGIs: the source CPUs of each pending SGI (bit per CPU). */
  readonly sgiSources = new Uint8Array(16);
  /** GICv3 GICD_IROUTER<n> of SPIs: the target's affinity, Aff2.Aff1.Aff0 in bits 23:0 (KVM keeps no IRM, no Aff3). */
  readonly irouter = new Uint32Array(NR_IRQS);
  ctlr = 0;
  /** GICv3 redistributor GICR_WAKER.ProcessorSleep (of the loaded vCPU's redistributor). */
  sleeping = true;
  /** Anything changed that a flush into the loaded vCPU's list registers must look at. */
  dirty = false;
  /** The vCPU whose private interrupts (SGIs, PPIs) the arrays hold at 0..31 (`load`). */
  cur = 0;
  /** The other vCPUs' private interrupts, saved by `load` (index = vCPU). */
  private readonly banks: { bytes: Uint8Array; sgiSources: Uint8Array; sleeping: boolean; dirty: boolean }[];

  constructor(
    readonly version: GicVersion,
    readonly era: () => KvmEra,
    /** Called before a register of an interrupt is read: bring the level of `intid` up to date (the timers). */
    readonly sample: () => void = () => {},
    /** vCPUs of the VM: each has its own SGIs and PPIs (GICv2 banked registers, GICv3 redistributors). */
    readonly vcpus = 1,
    /** An SGI became pending for vCPU `v` (KVM kicks or wakes it: vgic_queue_irq_unlock → kvm_vcpu_kick). */
    readonly onSgi: (v: number) => void = () => {},
  ) {
    for (let i = 0; i < 16; i++) {
      this.edge[i] = 1;
      // vgic_v2: SGIs are always enabled (kvm_vgic_vcpu_init).
      if (version === "v2") this.enabled[i] = 1;
    }
    for (let i = 0; i < NR_IRQS; i++) this.targets[i] = i < 32 ? 1 : 0;
    this.banks = Array.from({ length: vcpus }, (_, v) => {
      const bytes = new Uint8Array(PRIVATE_ARRAYS * 32);
      this.privates().forEach((a, k) => bytes.set(a.subarray(0, 32), 32 * k));
      // Private interrupts target their own CPU (ITARGETSR0-7 read as the reading CPU's bit).
      bytes.fill(1 << v, 32 * 7, 32 * 8);
      return { bytes, sgiSources: new Uint8Array(16), sleeping: true, dirty: false };
    });
  }

  /** The per-interrupt arrays whose entries 0..31 are banked per vCPU (the order of a bank's bytes). */
  private privates(): Uint8Array[] {
    return [this.enabled, this.latch, this.level, this.active, this.priority, this.group, this.edge, this.targets];
  }

  /**
   * Make vCPU `v`'s private interrupts the ones the arrays hold (the GICv2 banked registers and the
   * GICv3 redistributor as seen from that CPU: IHI 0048B 3.1.2, IHI 0069H 12.10); SPIs are shared.
   */
  load(v: number): void {
    if (v === this.cur) return;
    const save = this.banks[this.cur]!, next = this.banks[v]!;
    this.privates().forEach((a, k) => {
      save.bytes.set(a.subarray(0, 32), 32 * k);
      a.set(next.bytes.subarray(32 * k, 32 * k + 32), 0);
    });
    save.sgiSources.set(this.sgiSources);
    this.sgiSources.set(next.sgiSources);
    save.sleeping = this.sleeping;
    this.sleeping = next.sleeping;
    save.dirty = this.dirty;
    this.dirty = next.dirty;
    this.cur = v;
  }

  /** `fn` with vCPU `v`'s private interrupts loaded, then the current vCPU's again. */
  withVcpu<T>(v: number, fn: () => T): T {
    const was = this.cur;
    if (v === was) return fn();
    this.load(v);
    try {
      return fn();
    } finally {
      this.load(was);
    }
  }

  /** Interrupt `i` changed: a private one concerns the loaded vCPU, an SPI (or the distributor) every vCPU. */
  markDirty(i: number): void {
    this.dirty = true;
    if (i >= 32) for (const b of this.banks) b.dirty = true;
  }

  /** The vCPU an SPI is delivered to: GICv2 the lowest CPU of its targets, GICv3 the vCPU its IROUTER names; -1 for none. */
  spiTarget(i: number): number {
    if (this.version === "v2") {
      const t = this.targets[i]!;
      return t === 0 ? -1 : 31 - Math.clz32(t & -t);
    }
    const a = this.irouter[i]!;
    const v = (a & 0xf) | (((a >>> 8) & 0xff) << 4);
    return (a & 0xf0) === 0 && a >>> 16 === 0 && v < this.vcpus ? v : -1;
  }

  isPending(i: number): boolean {
    return this.latch[i] === 1 || (this.edge[i] === 0 && this.level[i] === 1);
  }

  /** Set the input line of a level-sensitive interrupt, or pulse an edge one (KVM's vgic_update_irq_pending). */
  setLevel(i: number, high: boolean): void {
    if (this.edge[i]) {
      if (high) this.latch[i] = 1;
    } else this.level[i] = high ? 1 : 0;
    this.markDirty(i);
  }

  /** GICv2 GICD_SGIR / GICv3 ICC_SGI1R_EL1: SGI `intid` from CPU `source` pending in vCPU `target`'s interface. */
  sendSgi(intid: number, source: number, target = this.cur): void {
    this.withVcpu(target, () => {
      this.latch[intid] = 1;
      this.sgiSources[intid]! |= 1 << source;
      this.dirty = true;
    });
    this.onSgi(target);
  }

  /** The register bank a byte offset of a frame falls in. */
  private regAt(regs: readonly GicReg[], offset: number): GicReg | undefined {
    return regs.find((x) => offset >= x.offset && offset < x.offset + x.length);
  }

  private readBank(reg: GicReg, first: number, bytes: number): number {
    let v = 0;
    const per = reg.bitsPerIrq;
    const n = (bytes * 8) / per;
    for (let k = 0; k < n; k++) {
      const i = first + k;
      if (i >= NR_IRQS) break;
      let x = 0;
      switch (reg.name.replace(/^GIC[DR]_/, "").replace(/0$/, "")) {
        case "IGROUPR": x = this.group[i]!; break;
        case "ISENABLER": case "ICENABLER": x = this.enabled[i]!; break;
        case "ISPENDR": case "ICPENDR": x = this.isPending(i) ? 1 : 0; break;
        case "ISACTIVER": case "ICACTIVER": x = this.active[i]!; break;
        case "IPRIORITYR": x = this.priority[i]!; break;
        case "ITARGETSR": x = this.targets[i]!; break;
        case "ICFGR": x = this.edge[i] ? 2 : 0; break;
      }
      v |= x << (k * per);
    }
    return v >>> 0;
  }

  private writeBank(reg: GicReg, first: number, bytes: number, v: number): void {
    const per = reg.bitsPerIrq;
    const n = (bytes * 8) / per;
    const m = per === 32 ? 0xffff_ffff : (1 << per) - 1;
    for (let k = 0; k < n; k++) {
      const i = first + k;
      if (i >= NR_IRQS) break;
      const x = (v >>> (k * per)) & m;
      switch (reg.name.replace(/^GIC[DR]_/, "").replace(/0$/, "")) {
        case "IGROUPR": this.group[i] = x; break;
        case "ISENABLER": if (x) this.enabled[i] = 1; break;
        case "ICENABLER": if (x && !(this.version === "v2" && i < 16)) this.enabled[i] = 0; break;
        case "ISPENDR": if (x) this.latch[i] = 1; break;
        case "ICPENDR": if (x) { this.latch[i] = 0; if (i < 16) this.sgiSources[i] = 0; } break;
        case "ISACTIVER": if (x) this.active[i] = 1; break;
        case "ICACTIVER": if (x) this.active[i] = 0; break;
        case "IPRIORITYR": this.priority[i] = x & PRI_MASK[this.era()]; break;
        // Private interrupts' targets are read-only; SPIs keep the bits of existing CPUs.
        case "ITARGETSR": if (i >= 32) this.targets[i] = x & ((1 << this.vcpus) - 1); break;
        // SGIs are always edge-triggered, PPIs' configuration is read-only in KVM.
        case "ICFGR": if (i >= 32) this.edge[i] = (x >> 1) & 1; break;
      }
    }
    this.markDirty(first);
  }

  /** A GICD access (offset within the frame, size 1/2/4/8), as KVM's vgic_mmio_read_* do. */
  readDist(offset: number, size: number): number {
    this.sample();
    const v3 = this.version === "v3";
    const reg = this.regAt(v3 ? GICD_V3_REGS : GICD_V2_REGS, offset);
    if (!reg) return 0; // reserved: RAZ/WI
    if (reg.bitsPerIrq === 64) {
      // GICD_IROUTER<n>: the affinity KVM stored (vgic_mmio_read_irouter); the upper word (Aff3) reads 0.
      const i = (offset - reg.offset) >>> 3;
      return (offset & 4) === 0 && i >= 32 ? this.irouter[i]! : 0;
    }
    if (reg.bitsPerIrq) {
      const first = ((offset - reg.offset) * 8) / reg.bitsPerIrq;
      // GICv3: the distributor's banks cover SPIs only; private interrupts live in the redistributor (RAZ here).
      if (v3 && first < 32) return 0;
      return this.readBank(reg, first, size);
    }
    switch (reg.name) {
      case "GICD_CTLR": return v3 ? (this.ctlr & 3) | (1 << 4) | (1 << 6) : this.ctlr & 1;
      // CPUNumber 7:5 (GICv2): the CPUs less one.
      case "GICD_TYPER": return v3 ? (NR_IRQS / 32 - 1) | (9 << 19) : (NR_IRQS / 32 - 1) | ((this.vcpus - 1) << 5);
      case "GICD_IIDR": return IIDR[this.era()];
      case "GICD_ICPIDR2": return 0x2 << 4;
      case "GICD_PIDR2": return 0x3 << 4;
    }
    return 0;
  }

  writeDist(offset: number, size: number, v: number): void {
    const v3 = this.version === "v3";
    const reg = this.regAt(v3 ? GICD_V3_REGS : GICD_V2_REGS, offset);
    if (!reg) return;
    if (reg.bitsPerIrq === 64) {
      // vgic_mmio_write_irouter: Aff2.Aff1.Aff0 kept (IRM and Aff3 are not), the SPI retargeted.
      const i = (offset - reg.offset) >>> 3;
      if ((offset & 4) === 0 && i >= 32) {
        this.irouter[i] = v & 0xff_ffff;
        this.markDirty(i);
      }
      return;
    }
    if (reg.bitsPerIrq) {
      const first = ((offset - reg.offset) * 8) / reg.bitsPerIrq;
      if (v3 && first < 32) return;
      this.writeBank(reg, first, size, v);
      return;
    }
    switch (reg.name) {
      case "GICD_CTLR":
        this.ctlr = v3 ? v & 3 : v & 1;
        this.markDirty(NR_IRQS - 1);
        return;
      case "GICD_SGIR": {
        // vgic_mmio_write_sgir: TargetListFilter 0: the CPUs of CPUTargetList; 1: all but self; 2: self.
        const filter = (v >>> 24) & 3, list = (v >>> 16) & 0xff, self = this.cur;
        const mask = filter === 0 ? list : filter === 1 ? ~(1 << self) : filter === 2 ? 1 << self : 0;
        for (let t = 0; t < this.vcpus; t++) if (mask & (1 << t)) this.sendSgi(v & 0xf, self, t);
        return;
      }
    }
  }

  /** A GICR access: the redistributor of vCPU offset / GICR_FRAME (two 64 KiB frames each); past the last, RAZ/WI. */
  readRedist(offset: number, size: number): number {
    const v = Math.floor(offset / GICR_FRAME);
    return v < this.vcpus ? this.withVcpu(v, () => this.readRedistOf(v, offset - v * GICR_FRAME, size)) : 0;
  }

  private readRedistOf(v: number, offset: number, size: number): number {
    this.sample();
    const reg = this.regAt(GICR_REGS, offset);
    if (!reg) return 0;
    if (reg.bitsPerIrq) return this.readBank(reg, ((offset - reg.offset) * 8) / reg.bitsPerIrq, size);
    switch (reg.name) {
      case "GICR_IIDR": return IIDR[this.era()];
      // Affinity (bits 63:32: the vCPU's MPIDR Aff0, Aff1), Processor_Number 23:8, Last (bit 4) on the last redistributor.
      case "GICR_TYPER": return offset === reg.offset ? (v << 8) | (v === this.vcpus - 1 ? 1 << 4 : 0) : (v & 0xf) | ((v >> 4) << 8);
      case "GICR_WAKER": return this.sleeping ? 6 : 0;
      case "GICR_PIDR2": return 0x3 << 4;
    }
    return 0;
  }

  writeRedist(offset: number, size: number, v: number): void {
    const cpu = Math.floor(offset / GICR_FRAME);
    if (cpu >= this.vcpus) return;
    this.withVcpu(cpu, () => {
      const o = offset - cpu * GICR_FRAME;
      const reg = this.regAt(GICR_REGS, o);
      if (!reg) return;
      if (reg.bitsPerIrq) return this.writeBank(reg, ((o - reg.offset) * 8) / reg.bitsPerIrq, size, v);
      if (reg.name === "GICR_WAKER") this.sleeping = (v & 2) !== 0;
    });
  }
}

/** The vGIC's distributor (and GICv3 redistributor) frames as in-kernel MMIO devices on the VM's bus. */
export function distributorDevices(d: VgicDist): { base: number; size: number; device: MmioDevice }[] {
  const dev = (name: string, read: (o: number, s: number) => number, write: (o: number, s: number, v: number) => void): MmioDevice => ({
    name,
    inKernel: true,
    read: (o, s) => {
      if (s === 8) return BigInt(read(o, 4)) | (BigInt(read(o + 4, 4)) << 32n);
      return BigInt(read(o, s));
    },
    write: (o, s, v) => {
      if (s === 8) {
        write(o, 4, Number(v & 0xffff_ffffn));
        write(o + 4, 4, Number(v >> 32n));
      } else write(o, s, Number(v & 0xffff_ffffn));
    },
  });
  const out = [{ base: GICD_BASE, size: GICD_SIZE, device: dev("gic-distributor", (o, s) => d.readDist(o, s), (o, s, v) => d.writeDist(o, s, v)) }];
  if (d.version === "v3") out.push({ base: GICR_BASE, size: GICR_FRAME * d.vcpus, device: dev("gic-redistributor", (o, s) => d.readRedist(o, s), (o, s, v) => d.writeRedist(o, s, v)) });
  return out;
}
