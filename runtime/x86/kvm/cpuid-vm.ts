// The VM's own part of its CPUID: what the VMM puts in KVM_SET_CPUID2 beyond the era's table
// (cpuid.ts) — the topology of its vCPUs (leaf 0xB, Extended Topology Enumeration, with each
// vCPU's x2APIC ID; leaf 1's logical processor count) and the features its `-cpu MODEL,+FLAG,-FLAG`
// leaves out (cpu-model.ts).
// Sources: Intel SDM Vol. 2A CPUID leaf 0BH (Table 3-8: EAX[4:0] bits to shift the x2APIC ID right
// to the next level's ID, EBX[15:0] logical processors at this level, ECX[7:0] the level number
// (the input ECX), ECX[15:8] the level type: 0 invalid, 1 SMT, 2 core; EDX the x2APIC ID);
// QEMU 7.2 target/i386/cpu.c cpu_x86_cpuid case 0xB (subleaf 0: apicid_core_offset, nr_threads,
// SMT; subleaf 1: pkg_offset, nr_cores * nr_threads, core; else 0, 0, invalid) and
// include/hw/i386/topology.h (apicid_bitwidth_for_count: the bits that number `count` IDs);
// QEMU hw/core/machine-smp.c smp_parse: since the 6.2 machine types a bare `-smp N` is one socket
// of N cores of one thread (prefer_sockets false); target/i386/kvm/kvm.c kvm_arch_init_vcpu hands
// KVM subleaves 0, 1 and the first invalid one, 2; Linux arch/x86/kvm/cpuid.c kvm_cpuid: a
// subleaf of 0xB beyond those answers zeros but ECX[7:0] = the subleaf and EDX = the x2APIC ID.
// Leaf 1: QEMU 7.2 cpu_x86_cpuid case 1 — when nr_cores * nr_threads > 1, EBX[23:16] (maximum
// addressable logical processor IDs, SDM Vol. 2A Table 3-8) |= that count and EDX.HTT (bit 28,
// Table 3-11) is set; KVM passes both through (kvm_update_cpuid_runtime leaves them).

import type { KvmEra } from "../../core/trace.js";
import { CPUID_FEATURES, cpuidHas, isIndexedLeaf, type CpuidEntry, type CpuidFeature } from "./cpuid.js";
import { cpuModelCleared, DEFAULT_MACHINE_CPU } from "./cpu-model.js";

/** Extended Topology Enumeration (SDM Vol. 2A CPUID leaf 0BH). */
export const TOPOLOGY_LEAF = 0xb;
/** Leaf 0BH ECX[15:8] level types (SDM Table 3-8; QEMU CPUID_TOPOLOGY_LEVEL_*). */
export const TOPOLOGY_LEVEL = { invalid: 0, smt: 1, core: 2 } as const;

/** The VM's CPUID choices: its vCPU count (leaves 1 and 0xB) and the features its CPU model leaves out. */
export interface VmCpuid {
  readonly vcpus: number;
  /** The VMM's -cpu argument (QEMU syntax; default DEFAULT_MACHINE_CPU). */
  readonly cpu: string;
  /** CPUID_FEATURES rows the -cpu model leaves out (cpu-model.ts cpuModelCleared). */
  readonly cleared: readonly CpuidFeature[];
  /** Whether XSAVE is among them: leaf 0xD is then all zeros (QEMU 7.2 cpu_x86_cpuid case 0xD without CPUID_EXT_XSAVE). */
  readonly noXsave: boolean;
}

/**
 * The VM's CPUID for `vcpus` vCPUs and the VMM's `-cpu` argument (QEMU's `MODEL,+FLAG,-FLAG,
 * FLAG=on|off`, cpu-model.ts; default `host`: all the era's KVM offers). A flag turned on adds
 * nothing the era's KVM does not offer (QEMU drops a feature KVM lacks); one off hides the
 * feature. Throws ExitlabError for an unknown model or a flag cpu-model.ts does not model.
 */
export function vmCpuid(vcpus: number, cpu: string = DEFAULT_MACHINE_CPU): VmCpuid {
  const off = new Set(cpuModelCleared(cpu));
  return { vcpus, cpu, cleared: CPUID_FEATURES.filter((f) => off.has(f.name)), noXsave: off.has("XSAVE") };
}

/** guest_cpu_cap_has: whether the VM's CPUID advertises feature `name` (the era's table less what the VMM cleared). */
export function vmCpuidHas(vm: VmCpuid | undefined, era: KvmEra, name: string): boolean {
  if (vm !== undefined) for (const f of vm.cleared) if (f.name === name) return false;
  return cpuidHas(era, name);
}

/** apicid_bitwidth_for_count (QEMU topology.h): bits that number `count` IDs, 0 for one. */
export function bitsFor(count: number): number {
  return count <= 1 ? 0 : 32 - Math.clz32(count - 1);
}

/** QEMU's topology of a bare `-smp N` (one socket, N cores, one thread each): the x2APIC ID's field offsets. */
export function smpTopology(vcpus: number): { threads: number; cores: number; coreOffset: number; pkgOffset: number } {
  const threads = 1, cores = vcpus;
  const coreOffset = bitsFor(threads);
  return { threads, cores, coreOffset, pkgOffset: coreOffset + bitsFor(cores) };
}

/**
 * Leaf 0xB subleaf `index` for the vCPU whose x2APIC ID is `apicId` in a VM of `vcpus` vCPUs, as
 * the era's KVM answers from QEMU's entries: `found` for subleaves 0-2 (the ones QEMU hands over);
 * another subleaf has no entry, and today's kvm_cpuid answers zeros but ECX[7:0] = the subleaf and
 * EDX = the x2APIC ID (Linux v5.4, "kvm: x86: Improve emulation of CPUID leaves 0BH and 1FH"),
 * v4.1's all zeros.
 */
export function topologyLeaf(vcpus: number, apicId: number, index: number, era: KvmEra = "today"): { entry: CpuidEntry; found: boolean } {
  const t = smpTopology(vcpus);
  const ecx = index & 0xff;
  if (index === 0) return { entry: { eax: t.coreOffset, ebx: t.threads, ecx: ecx | (TOPOLOGY_LEVEL.smt << 8), edx: apicId }, found: true };
  if (index === 1) return { entry: { eax: t.pkgOffset, ebx: (t.cores * t.threads) & 0xffff, ecx: ecx | (TOPOLOGY_LEVEL.core << 8), edx: apicId }, found: true };
  if (index === 2) return { entry: { eax: 0, ebx: 0, ecx, edx: apicId }, found: true };
  return { entry: era === "2015" ? { eax: 0, ebx: 0, ecx: 0, edx: 0 } : { eax: 0, ebx: 0, ecx, edx: apicId }, found: false };
}

/** Processor extended state enumeration (SDM Vol. 2A CPUID leaf 0DH). */
const XSAVE_LEAF = 0xd;
const NO_XSAVE_LEAF: CpuidEntry = Object.freeze({ eax: 0, ebx: 0, ecx: 0, edx: 0 });

/** CPUID.1:EDX.HTT (SDM Vol. 2A Table 3-11; QEMU CPUID_HT). */
export const CPUID_1_EDX_HTT = 1 << 28;

/**
 * Leaf 1 of a VM of `vcpus` vCPUs (QEMU's bare `-smp N`: N cores of one thread in one package):
 * `entry` with EBX[23:16] |= N and EDX.HTT set when N > 1, as QEMU 7.2 cpu_x86_cpuid case 1 ORs
 * `(nr_cores * nr_threads) << 16`; `entry` itself for one vCPU.
 */
export function smpLeaf1(vcpus: number, entry: CpuidEntry): CpuidEntry {
  const t = smpTopology(vcpus);
  const perPkg = t.cores * t.threads;
  if (perPkg <= 1) return entry;
  return { ...entry, ebx: (entry.ebx | (perPkg << 16)) >>> 0, edx: (entry.edx | CPUID_1_EDX_HTT) >>> 0 };
}

/**
 * The entry KVM answers from table leaf `source` (cpuid.ts cpuidSourceLeaf: the leaf, or the
 * highest basic leaf standing in) as this VM's vCPU `apicId` sees it: leaf 0xB from the topology,
 * leaf 1's logical processor count and HTT (smpLeaf1), the cleared features' bits off, leaf 0xD
 * zeros without XSAVE. Returns `entry` itself when nothing changes.
 */
export function vmCpuidEntry(vm: VmCpuid, era: KvmEra, source: number, index: number, apicId: number, entry: CpuidEntry): CpuidEntry {
  let e = entry;
  if (source === TOPOLOGY_LEAF) e = topologyLeaf(vm.vcpus, apicId, index, era).entry;
  if (source === 1) e = smpLeaf1(vm.vcpus, e);
  if (source === XSAVE_LEAF && vm.noXsave) e = NO_XSAVE_LEAF;
  for (const f of vm.cleared) {
    // The flags live in subleaf 0 of an indexed leaf (leaf 7).
    if (f.leaf !== source || (index !== 0 && isIndexedLeaf(source)) || !((e[f.reg] >>> f.bit) & 1)) continue;
    e = { ...e, [f.reg]: (e[f.reg] & ~(1 << f.bit)) >>> 0 };
  }
  return e;
}
