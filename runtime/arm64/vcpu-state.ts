// The vCPUs of an arm64 VM: what each owns (its A64 CPU with its registers and EL1/EL2 system
// registers, KVM's per-vcpu state, its generic timer; its vGIC CPU interface and redistributor
// live in the VM's Vgic, by vCPU), its MPIDR, and KVM's PSCI calls that act on other vCPUs:
// CPU_ON, AFFINITY_INFO, CPU_OFF. Sources: Linux arch/arm64/kvm/sys_regs.c reset_mpidr,
// arch/arm64/kvm/psci.c (kvm_psci_vcpu_on, kvm_psci_vcpu_affinity_info, kvm_psci_vcpu_off;
// Linux v4.1 arch/arm/kvm/psci.c for 2015), Arm DEN 0022 (PSCI) 5.1.4, 5.1.5, 5.1.2.

import type { A64Cpu } from "./cpu.js";
import type { KvmVcpu } from "./kvm/vcpu.js";
import type { GenericTimer } from "./timer.js";
import type { KvmEra } from "../core/trace.js";
import type { VcpuScheduler } from "../core/vcpus.js";
import { PSCI_RET } from "./kvm/psci.js";

/** One vCPU of the VM. */
export interface Arm64Vcpu {
  readonly id: number;
  readonly cpu: A64Cpu;
  readonly kvm: KvmVcpu;
  readonly timer: GenericTimer;
  /** Exits it took. */
  exits: number;
  /** `exits` at its last YIELD (smp.ts yieldVcpu: did it make progress since). */
  exitsAtYield: number;
  /** Guest instructions it retired. */
  steps: number;
  /** The modelled cycle it blocked at (WFI), for kvm_vcpu_wakeup's time. */
  blockedAt: number;
  /**
   * What it must do when it next runs, before guest code: "wake" (it woke from WFI: trace
   * kvm_vcpu_wakeup, then enter), "enter" (powered on by CPU_ON: its first entry), or nothing.
   */
  resume: "" | "wake" | "enter";
}

/** MPIDR_EL1 of vCPU `id` as KVM's reset_mpidr makes it: Aff0 = id bits 3:0, Aff1 = id bits 11:4, Aff2 = bits 19:12, bit 31 RES1. */
export function vcpuMpidr(id: number): bigint {
  return (1n << 31n) | BigInt(id & 0xf) | (BigInt((id >> 4) & 0xff) << 8n) | (BigInt((id >> 12) & 0xff) << 16n);
}

/** MPIDR_HWID_BITMASK (arch/arm64/include/asm/cputype.h): the affinity fields Aff3, Aff2, Aff1, Aff0. */
const MPIDR_HWID_BITMASK = 0xff_00ff_ffffn;
/** PSCI return codes beyond psci.ts's (DEN 0022 Table 6): ALREADY_ON -4, ON_PENDING -5. */
const ALREADY_ON = (1n << 64n) - 4n;
/** AFFINITY_INFO's answers (DEN 0022 5.1.5): ON 0, OFF 1. */
const AFFINITY_ON = 0n, AFFINITY_OFF = 1n;

/** What KVM's PSCI calls need of the VM's vCPUs. */
export interface PsciVcpus {
  readonly vcpus: readonly Arm64Vcpu[];
  readonly sched: VcpuScheduler;
  /** Reset vCPU `id` (kvm_reset_vcpu) to start at `pc` with x0 = `x0`. */
  resetVcpu(id: number, pc: bigint, x0: bigint): void;
}

/** kvm_mpidr_to_vcpu: the vCPU whose MPIDR affinity is `mpidr` (masked to MPIDR_HWID_BITMASK), or undefined. */
export function vcpuByMpidr(vm: PsciVcpus, mpidr: bigint): Arm64Vcpu | undefined {
  const aff = mpidr & MPIDR_HWID_BITMASK;
  return vm.vcpus.find((v) => (vcpuMpidr(v.id) & MPIDR_HWID_BITMASK) === aff);
}

/**
 * kvm_psci_vcpu_on: power on the vCPU with affinity `target` (x1) at `entry` (x2) with x0 =
 * `contextId` (x3). Today's KVM rejects affinity bits outside MPIDR_HWID_BITMASK
 * (kvm_psci_valid_affinity); Linux v4.1 masked them. Returns PSCI_RET_SUCCESS, INVALID_PARAMS (no
 * such vCPU) or ALREADY_ON (it is not off; PSCI 0.2 and later).
 */
export function psciCpuOn(vm: PsciVcpus, era: KvmEra, target: bigint, entry: bigint, contextId: bigint): { ret: bigint; text: string } {
  if (era === "today" && (target & ~MPIDR_HWID_BITMASK) !== 0n) return { ret: PSCI_RET.INVALID_PARAMS, text: `affinity 0x${target.toString(16)} has bits outside MPIDR_HWID_BITMASK: INVALID_PARAMETERS` };
  const v = vcpuByMpidr(vm, target);
  if (!v) return { ret: PSCI_RET.INVALID_PARAMS, text: `no vCPU has MPIDR affinity 0x${(target & MPIDR_HWID_BITMASK).toString(16)}: INVALID_PARAMETERS` };
  if (vm.sched.states[v.id] !== "off") return { ret: ALREADY_ON, text: `vCPU ${v.id} is already on: ALREADY_ON` };
  vm.resetVcpu(v.id, entry, contextId);
  vm.sched.set(v.id, "running");
  v.resume = "enter";
  return { ret: PSCI_RET.SUCCESS, text: `vCPU ${v.id} powered on at 0x${entry.toString(16)} with x0 = 0x${contextId.toString(16)}: SUCCESS` };
}

/**
 * kvm_psci_vcpu_affinity_info: ON (0) when a vCPU that is not off matches `target` (x1) at and
 * above affinity level `level` (x2, 0..3), else OFF (1); INVALID_PARAMETERS for a level above 3
 * (or, today, affinity bits outside MPIDR_HWID_BITMASK).
 */
export function psciAffinityInfo(vm: PsciVcpus, era: KvmEra, target: bigint, level: bigint): { ret: bigint; text: string } {
  if (era === "today" && (target & ~MPIDR_HWID_BITMASK) !== 0n) return { ret: PSCI_RET.INVALID_PARAMS, text: "INVALID_PARAMETERS (affinity bits outside MPIDR_HWID_BITMASK)" };
  if (level > 3n) return { ret: PSCI_RET.INVALID_PARAMS, text: `INVALID_PARAMETERS (affinity level ${level})` };
  // psci_affinity_mask: MPIDR_HWID_BITMASK & ~((1 << MPIDR_LEVEL_SHIFT(level)) - 1); levels 0-2 shift 8 per level, level 3 by 32.
  const shift = level === 3n ? 32n : 8n * level;
  const mask = MPIDR_HWID_BITMASK & ~((1n << shift) - 1n) & ((1n << 64n) - 1n);
  const aff = target & mask;
  const on = vm.vcpus.some((v) => (vcpuMpidr(v.id) & mask) === aff && vm.sched.states[v.id] !== "off");
  return { ret: on ? AFFINITY_ON : AFFINITY_OFF, text: `affinity 0x${target.toString(16)} level ${level}: ${on ? "ON" : "OFF"}` };
}
