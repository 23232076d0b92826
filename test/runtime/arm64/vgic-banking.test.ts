// The vGIC's per-vCPU banking on an SMP VM: SGIs and PPIs belong to each vCPU (GICv2 banked
// registers, IHI 0048B 3.1.2; GICv3 one redistributor per PE, IHI 0069H 12.10), SPIs are shared;
// SGIs reach the vCPUs GICD_SGIR / ICC_SGI1R_EL1 name; each vCPU has its own list registers.
import { describe, expect, it } from "vitest";
import { createArm64Machine, type Arm64Machine } from "../../../runtime/arm64/machine.js";
import { GICR_FRAME } from "../../../runtime/arm64/gic/dist.js";

const ISENABLER0 = 0x1_0100, GICR_TYPER = 0x8;

function vm(gic: "v2" | "v3"): Arm64Machine {
  return createArm64Machine({ settings: { vcpus: 2, gic, era: "today" } });
}

describe("vGIC banking per vCPU", () => {
  it("a PPI's line is the vCPU's own: raised on vCPU 0, vCPU 1 does not see it pending", () => {
    const d = vm("v3").vgic.dist;
    expect(d.cur).toBe(0);
    d.setLevel(20, true);
    expect(d.isPending(20)).toBe(true);
    expect(d.withVcpu(1, () => d.isPending(20))).toBe(false);
    d.withVcpu(1, () => d.setLevel(21, true));
    expect(d.isPending(21)).toBe(false);
    expect(d.withVcpu(1, () => d.isPending(21))).toBe(true);
  });

  it("GICv3: each redistributor frame enables its own vCPU's PPIs; GICR_TYPER numbers the PE and marks the last", () => {
    const d = vm("v3").vgic.dist;
    d.writeRedist(GICR_FRAME + ISENABLER0, 4, 1 << 20);
    expect(d.withVcpu(1, () => d.enabled[20])).toBe(1);
    expect(d.enabled[20]).toBe(0);
    expect(d.readRedist(ISENABLER0, 4) & (1 << 20)).toBe(0);
    expect(d.readRedist(GICR_FRAME + ISENABLER0, 4) & (1 << 20)).toBe(1 << 20);
    // Processor_Number 23:8, Last 4.
    expect(d.readRedist(GICR_TYPER, 4)).toBe(0);
    expect(d.readRedist(GICR_FRAME + GICR_TYPER, 4)).toBe((1 << 8) | (1 << 4));
  });

  it("SPIs are shared: enabled through GICD_ISENABLER1, every vCPU sees it", () => {
    const d = vm("v3").vgic.dist;
    d.writeDist(0x104, 4, 1 << 8); // INTID 40
    expect(d.enabled[40]).toBe(1);
    expect(d.withVcpu(1, () => d.enabled[40])).toBe(1);
  });

  it("GICv2: ITARGETSR0-7 read as the reading CPU's own bit", () => {
    const d = vm("v2").vgic.dist;
    expect(d.readDist(0x800, 4)).toBe(0x0101_0101);
    expect(d.withVcpu(1, () => d.readDist(0x800, 4))).toBe(0x0202_0202);
  });

  it("ICC_SGI1R_EL1 from vCPU 0 makes the SGI pending in vCPU 1 only (TargetList bit 1); IRM = 1 means every other vCPU", () => {
    const v = vm("v3").vgic;
    v.sgi1r((3n << 24n) | 0b10n);
    expect(v.dist.isPending(3)).toBe(false);
    expect(v.dist.withVcpu(1, () => v.dist.isPending(3))).toBe(true);
    expect(v.dist.withVcpu(1, () => v.dist.sgiSources[3])).toBe(1);
    v.sgi1r((5n << 24n) | (1n << 40n));
    expect(v.dist.isPending(5)).toBe(false);
    expect(v.dist.withVcpu(1, () => v.dist.isPending(5))).toBe(true);
    expect(v.stats.sgis).toBe(2);
  });

  it("each vCPU's list registers hold its own interrupts: a flush on vCPU 1 leaves vCPU 0's LRs empty", () => {
    const m = vm("v3");
    const v = m.vgic, d = v.dist;
    d.writeDist(0x0, 4, 2); // GICD_CTLR.EnableGrp1
    d.writeRedist(GICR_FRAME + ISENABLER0, 4, 1 << 3);
    d.sendSgi(3, 0, 1);
    v.load(1);
    v.flush();
    expect(v.cpuifs[1]!.lrs[0]!.intid).toBe(3);
    expect(v.cpuifs[1]!.lrs[0]!.state & 1).toBe(1);
    expect(v.cpuifs[0]!.lrs.every((lr) => lr.state === 0)).toBe(true);
    // vCPU 0 has nothing pending; vCPU 1 has its SGI.
    v.load(0);
    expect(v.pendingForVcpu()).toBe(false);
    expect(v.withVcpu(1, () => v.pendingForVcpu())).toBe(true);
  });
});
