// How the arm64 machine's parts are wired per vCPU and per VM: KVM_CREATE_VCPU (a vCPU's A64 CPU,
// KVM state and generic timer, their callbacks into the VM), kvm_reset_vcpu (registers, MPIDR,
// KVM's timer traps), and KVM_CREATE_DEVICE of the vGIC (distributor frames on the bus as
// in-kernel devices; GICV mapped directly for v2, the ICC_* system registers for v3).
// Sources: Linux arch/arm64/kvm/arm.c (kvm_arch_vcpu_create), arch/arm64/kvm/reset.c
// (kvm_reset_vcpu), arch/arm64/kvm/sys_regs.c (reset_mpidr), arch/arm64/kvm/vgic/vgic-init.c,
// arch/arm64/kvm/arch_timer.c (kvm_timer_vcpu_reset).

import { A64Cpu, ATTN_STOP } from "./cpu.js";
import { KvmVcpu } from "./kvm/vcpu.js";
import { GenericTimer, KVM_CNTHCTL } from "./timer.js";
import { Vgic } from "./kvm/vgic.js";
import { distributorDevices, GICC_BASE, type GicVersion } from "./gic/dist.js";
import { psciAffinityInfo, psciCpuOn, vcpuMpidr, type Arm64Vcpu } from "./vcpu-state.js";
import { kvmVcpuBlock, sgiPending, timerDeadlineName, yieldVcpu } from "./smp.js";
import { skipPolling } from "./spin.js";
import type { Arm64Machine } from "./machine.js";

/** KVM_CREATE_VCPU: vCPU `id`'s CPU, KVM state and timer, wired to the VM `m` (its vGIC interface comes with the vGIC). */
export function makeVcpu(m: Arm64Machine, id: number): Arm64Vcpu {
  const cpu = new A64Cpu(m.memory, m.bus, m.host.memory);
  const kvm = new KvmVcpu({
    cpu,
    memory: m.memory,
    bus: m.bus,
    host: m.host,
    settings: m.settings,
    granule: () => m.settings.granule,
    pairMmio: () => m.settings.pair_mmio,
    emit: (name, fields) => m.traceEvent(name, fields),
    // One vCPU: the machine's retired instructions (exits happen between chunks, so nothing is in flight); SMP: this vCPU's.
    pmu: { instructions: () => (m.sched.count > 1 ? m.vcpus[id]!.steps : m.steps), cycles: () => m.clock.now() },
    tracer: m,
    block: () => kvmVcpuBlock(m),
    timerReg: { read: (n) => m.timer.read(n), write: (n, v) => m.timer.write(n, v) },
    sgi1r: (v) => m.vgic.sgi1r(v),
    psci: {
      cpuOn: (t, e, c) => psciCpuOn(m, m.settings.era, t, e, c),
      affinityInfo: (t, l) => psciAffinityInfo(m, m.settings.era, t, l),
      cpuOff: () => m.cpuOff(),
    },
  });
  // One stage 2 per VM: every vCPU's VTTBR_EL2 points at the same tables.
  if (id > 0) kvm.stage2 = m.vcpus[0]!.kvm.stage2;
  cpu.clock = () => m.clock.now();
  const timer = new GenericTimer(m.clock, () => Number(cpu.reg("CNTFRQ_EL0")), () => timerChanged(m, id));
  cpu.mapDirect = (ipa) => kvm.mapDirect(ipa);
  cpu.counterRead = (virtual, rt) => skipPolling(m, m.pollLoops, virtual, rt);
  if (m.settings.vcpus > 1) cpu.onYield = () => yieldVcpu(m);
  return { id, cpu, kvm, timer, exits: 0, exitsAtYield: 0, steps: 0, blockedAt: 0, resume: "" };
}

/** kvm_reset_vcpu of vCPU `id` of `m`: registers reset, pc = `pc`, x0 = `x0`, its MPIDR, KVM's timer traps and vGIC view. */
export function resetVcpu(m: Arm64Machine, id: number, pc: bigint, x0: bigint): void {
  const v = m.vcpus[id]!;
  if (id > 0) v.cpu.resetRegisters();
  v.kvm.reset(pc, x0);
  v.cpu.writeSysregValue("CNTHCTL_EL2", KVM_CNTHCTL);
  v.cpu.setReg("VMPIDR_EL2", vcpuMpidr(id));
  if (m.vgic) vgicCpu(v, m.vgic);
  if (id > 0) {
    // kvm_timer_vcpu_reset: both timers disabled, their deadlines gone.
    for (const t of v.timer.timers) {
      (t.ctl = 0), (t.fired = false);
      m.clock.schedule(timerDeadlineName(id, t.def.name), null);
    }
  }
}

/**
 * Create the vGIC of `version` for `m` (KVM_CREATE_DEVICE): the previous one's bus regions
 * (`m.gicRegions`) removed, the distributor frames on the bus as in-kernel devices, GICV mapped
 * directly (v2) or the ICC_* registers (v3), every vCPU's side wired.
 */
export function makeVgic(m: Arm64Machine, version: GicVersion): Vgic {
  for (const r of m.gicRegions) m.bus.remove(r.base);
  const hooks = m.vcpus.map((x) => ({ timer: x.timer, onVirq: (on: boolean) => x.cpu.setVirq(on), onPhysical: () => (x.cpu.attention |= ATTN_STOP) }));
  const v = new Vgic(version, () => m.settings.era, hooks, (t) => sgiPending(m, t));
  // vgic_update_irq_pending exists since Linux 4.7's vgic (virt/kvm/arm/vgic/trace.h): today only.
  v.onInject = (vcpu, irq, level) => {
    if (m.settings.era === "today") m.traceEvent("vgic_update_irq_pending", { vcpu_id: vcpu, irq, level });
  };
  v.load(m.sched.current);
  const regions = [...distributorDevices(v.dist)];
  if (version === "v2") regions.push(v.gicvDevice());
  for (const r of regions) m.bus.add(r.base, r.size, r.device);
  m.gicRegions = regions;
  for (const x of m.vcpus) vgicCpu(x, v);
  return v;
}

/** A vCPU's side of the vGIC: GICV mapped (v2) or the ICC_* system registers (v3), its timer's and the vGIC's registers. */
function vgicCpu(x: Arm64Vcpu, v: Vgic): void {
  const version = v.version;
  x.kvm.directMmio = version === "v2" ? [{ base: GICC_BASE, size: 0x2000 }] : [];
  x.cpu.gicSysregs = version === "v3";
  // ID_AA64PFR0_EL1.GIC (27:24): 1 = the GICv3 system-register interface (KVM sets it with a vGICv3).
  const pfr0 = x.cpu.reg("ID_AA64PFR0_EL1") & ~(0xfn << 24n);
  x.cpu.sysregs.set("ID_AA64PFR0_EL1", version === "v3" ? pfr0 | (1n << 24n) : pfr0);
  x.cpu.sysregHook = {
    read: (n) => x.timer.read(n) ?? (version === "v3" ? v.readIcc(n) : undefined),
    write: (n, val) => x.timer.write(n, val) || (version === "v3" && v.writeIcc(n, val)),
  };
}

/** A timer register of vCPU `id` changed: reschedule its deadlines and stop the running chunk at the next block boundary. */
function timerChanged(m: Arm64Machine, id: number): void {
  const x = m.vcpus[id]!;
  for (const t of x.timer.timers) m.clock.schedule(timerDeadlineName(id, t.def.name), x.timer.deadline(t));
  x.cpu.attention |= ATTN_STOP;
}
