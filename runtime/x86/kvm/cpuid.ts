// The CPUID table KVM answers from (QEMU hands it over with KVM_SET_CPUID2; kvm_emulate_cpuid looks
// leaves up), derived from what this machine models: every feature flag a Haswell "-cpu host" would
// show is a row of CPUID_FEATURES with the evidence that decides it — an instruction the decoder
// must know, an MSR the KVM model must accept, or a behaviour of the CPU model (paging, modes) — and
// a flag is advertised only when that evidence holds, so a guest that believes CPUID never meets a
// #UD/#GP the flag promised away, and a test (kvm-unit-tests style) sees "absent" and skips.
// Leaf layouts: Intel SDM Vol. 2 CPUID, Tables 3-8 (leaf 0), 3-10/3-11 (leaf 1 ECX/EDX), 3-8
// (0x80000001); KVM signature and features: Linux Documentation/virtual/kvm/cpuid.txt (v4.1),
// Documentation/virt/kvm/x86/cpuid.rst (today).

import { isMceMsr } from "./mce.js";
import { isMtrrMsr } from "./mtrr.js";
import type { KvmEra } from "../../core/trace.js";
import { decodeX86 } from "../isa/decode.js";
import { msrInfo } from "./msrs.js";
import { ExitlabError } from "../../core/errors.js";
import { SUPPORTED_XCR0, XSAVE_COMPONENTS, xstateRequiredSize } from "../fpu-state.js";

export interface CpuidEntry {
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

/** What must hold for a feature flag to be advertised. */
export type CpuidEvidence =
  /** The 64-bit decoder knows the instruction (not #UD). */
  | { kind: "insn"; bytes: readonly number[] }
  /** KVM's MSR model accepts the MSR (runtime/x86/kvm/msrs.ts). */
  | { kind: "msr"; code: number }
  /** Behaviour the CPU or KVM model implements; `where` names the module. */
  | { kind: "modelled"; where: string }
  /** Not modelled; `why` says what is missing. */
  | { kind: "absent"; why: string };

export interface CpuidFeature {
  /** Linux's X86_FEATURE_ / KVM_FEATURE_ name (without prefix). */
  name: string;
  leaf: number;
  reg: keyof CpuidEntry;
  bit: number;
  evidence: CpuidEvidence;
  /** Eras whose KVM offers it (KVM_GET_SUPPORTED_CPUID); default both. */
  eras?: readonly KvmEra[];
}

const F = (name: string, leaf: number, reg: keyof CpuidEntry, bit: number, evidence: CpuidEvidence, eras?: readonly KvmEra[]): CpuidFeature => ({
  name, leaf, reg, bit, evidence, eras,
});
const insn = (...bytes: number[]): CpuidEvidence => ({ kind: "insn", bytes });
const msr = (code: number): CpuidEvidence => ({ kind: "msr", code });
const modelled = (where: string): CpuidEvidence => ({ kind: "modelled", where });
const absent = (why: string): CpuidEvidence => ({ kind: "absent", why });
const NO_SIMD = "no x87 arithmetic, MMX, SSE3 or later, or AVX arithmetic is modelled";
const KVM_PV = "KVM's paravirtual MSRs and hypercalls are not modelled";

/** Every flag of the modelled CPU's leaves (SDM Vol. 2 Tables 3-10, 3-11; Linux cpufeatures.h bit names). */
export const CPUID_FEATURES: readonly CpuidFeature[] = [
  // Leaf 1 EDX.
  F("FPU", 1, "edx", 0, insn(0xd9, 0xe8)), // fld1: x87 arithmetic (only FNINIT/FNSTSW/FNSTCW/FLDCW/FWAIT are modelled)
  F("VME", 1, "edx", 1, absent("virtual-8086 mode is not modelled")),
  F("DE", 1, "edx", 2, absent("CR4.DE (DR4/DR5 #UD) is not modelled")),
  F("PSE", 1, "edx", 3, modelled("runtime/x86/paging.ts: 4 MiB pages with CR4.PSE")),
  F("TSC", 1, "edx", 4, insn(0x0f, 0x31)), // rdtsc
  F("MSR", 1, "edx", 5, insn(0x0f, 0x32)), // rdmsr
  F("PAE", 1, "edx", 6, modelled("runtime/x86/paging.ts: PAE and 4-level paging")),
  F("MCE", 1, "edx", 7, msr(0x179)), // IA32_MCG_CAP
  F("CX8", 1, "edx", 8, insn(0x0f, 0xc7, 0x08)), // cmpxchg8b (%rax): isa/semantics/bits.ts
  F("APIC", 1, "edx", 9, modelled("runtime/x86/apic/lapic.ts: KVM's in-kernel local APIC at 0xfee00000")),
  F("SEP", 1, "edx", 11, insn(0x0f, 0x34)), // sysenter: isa/semantics/sysenter.ts, IA32_SYSENTER_* passed through (msrs.ts)
  F("MTRR", 1, "edx", 12, msr(0xfe)), // IA32_MTRRCAP and the range MSRs: kvm/mtrr.ts (KVM's mtrr.c)
  F("PGE", 1, "edx", 13, modelled("CR4.PGE is guest-owned with EPT (vcpu.ts); any TLB flush is allowed to drop global entries")),
  F("MCA", 1, "edx", 14, msr(0x179)),
  F("CMOV", 1, "edx", 15, insn(0x0f, 0x44, 0xc0)),
  F("PAT", 1, "edx", 16, msr(0x277)),
  F("PSE36", 1, "edx", 17, absent("4 MiB pages take no address bits above 31 (paging.ts)")),
  F("CLFLUSH", 1, "edx", 19, insn(0x0f, 0xae, 0x38)), // clflush (%rax)
  F("MMX", 1, "edx", 23, insn(0x0f, 0x6f, 0xc0)), // movq %mm0,%mm0: no MMX register file or instruction is modelled
  F("FXSR", 1, "edx", 24, insn(0x0f, 0xae, 0x00)), // fxsave (%rax)
  F("XMM", 1, "edx", 25, insn(0x0f, 0x28, 0xc0)), // movaps
  F("XMM2", 1, "edx", 26, insn(0x66, 0x0f, 0x6f, 0xc0)), // movdqa
  F("SELFSNOOP", 1, "edx", 27, absent("no caches are modelled")),
  // Leaf 1 ECX.
  F("XMM3", 1, "ecx", 0, insn(0xf2, 0x0f, 0x7c, 0xc0)), // haddps
  F("PCLMULQDQ", 1, "ecx", 1, insn(0x66, 0x0f, 0x3a, 0x44, 0xc0, 0x00)),
  F("VMX", 1, "ecx", 5, absent("nested VMX is not modelled: CR4.VMXE is refused (vmx_set_cr4 without nested)")),
  F("SSSE3", 1, "ecx", 9, insn(0x66, 0x0f, 0x38, 0x00, 0xc0)), // pshufb (none of the 16 SSSE3 instructions is modelled)
  F("FMA", 1, "ecx", 12, absent(NO_SIMD)),
  F("CX16", 1, "ecx", 13, insn(0x48, 0x0f, 0xc7, 0x08)), // cmpxchg16b (%rax): isa/semantics/bits.ts
  F("PCID", 1, "ecx", 17, absent("CR4.PCIDE and CR3 process-context identifiers are not modelled")),
  F("XMM4_1", 1, "ecx", 19, insn(0x66, 0x0f, 0x38, 0x17, 0xc0)), // ptest (no SSE4.1 instruction is modelled)
  F("XMM4_2", 1, "ecx", 20, insn(0xf2, 0x0f, 0x38, 0xf0, 0xc0)), // crc32b (no CRC32, PCMPxSTRx or PCMPGTQ)
  // Its MSRs #GP until the guest sets IA32_APIC_BASE.EXTD (SDM 11.12.1), so the evidence is the model, not an MSR read.
  F("X2APIC", 1, "ecx", 21, modelled("runtime/x86/apic/lapic.ts: x2APIC mode (IA32_APIC_BASE.EXTD), MSRs 0x800-0x8ff")),
  F("MOVBE", 1, "ecx", 22, insn(0x0f, 0x38, 0xf0, 0x00)),
  F("POPCNT", 1, "ecx", 23, insn(0xf3, 0x0f, 0xb8, 0xc0)),
  F("TSC_DEADLINE_TIMER", 1, "ecx", 24, msr(0x6e0)), // IA32_TSC_DEADLINE (kvm_set_lapic_tscdeadline_msr)
  F("AES", 1, "ecx", 25, insn(0x66, 0x0f, 0x38, 0xdc, 0xc0)),
  // xsave (%rax); with it CR4.OSXSAVE, XSETBV and leaf 0xD. CPUID.1:ECX.OSXSAVE (bit 27) is not a row:
  // it mirrors the guest's CR4.OSXSAVE (kvm_update_cpuid_runtime; handlers.ts handleCpuid).
  F("XSAVE", 1, "ecx", 26, insn(0x0f, 0xae, 0x20)),
  // vmovdqa %ymm0,%ymm0: the YMM state, XCR0.YMM and the VEX moves (semantics/avx.ts); no AVX arithmetic.
  F("AVX", 1, "ecx", 28, insn(0xc5, 0xfd, 0x6f, 0xc0)),
  F("F16C", 1, "ecx", 29, absent(NO_SIMD)),
  F("RDRAND", 1, "ecx", 30, insn(0x0f, 0xc7, 0xf0)),
  F("HYPERVISOR", 1, "ecx", 31, modelled("KVM sets it for every guest (QEMU's CPUID_EXT_HYPERVISOR)")),
  // Leaf 7 subleaf 0 EBX (SDM Table 3-8): the ones a kernel probes first.
  F("FSGSBASE", 7, "ebx", 0, insn(0xf3, 0x48, 0x0f, 0xae, 0xc0)), // rdfsbase %rax
  // Not on Haswell (the modelled CPU): CLFLUSHOPT and CLWB came with Skylake, PCOMMIT never shipped
  // (Intel withdrew it; Linux dropped KVM's support, "KVM: x86: remove support for PCOMMIT", v4.9).
  F("PCOMMIT", 7, "ebx", 22, absent("the modelled CPU (Haswell) has no PCOMMIT")),
  F("CLFLUSHOPT", 7, "ebx", 23, absent("the modelled CPU (Haswell) has no CLFLUSHOPT (Skylake and later)")),
  F("CLWB", 7, "ebx", 24, absent("the modelled CPU (Haswell) has no CLWB (Skylake-SP and later)")),
  // SMEP came with Ivy Bridge, SMAP with Broadwell (Intel SDM Vol. 3 4.6; Linux cpufeatures.h): the 2015
  // host (Haswell) has SMEP only; KVM passes either through only when the host has it (kvm_set_cpu_caps).
  F("SMEP", 7, "ebx", 7, modelled("runtime/x86/paging.ts: CR4.SMEP, no supervisor fetch from a user page")),
  F("SMAP", 7, "ebx", 20, modelled("runtime/x86/paging.ts: CR4.SMAP with EFLAGS.AC; STAC/CLAC (isa/table.ts)"), ["today"]),
  // Leaf 7 subleaf 0 ECX: protection keys (SDM Vol. 3 4.6.2; runtime/x86/pkeys.ts). PKU (user-mode
  // keys, PKRU) came with Skylake-SP: the today host has it, Haswell not. OSPKE (bit 4) is CR4.PKE,
  // set per vCPU at CPUID time (handlers.ts, kvm_update_cpuid_runtime). PKS (bit 31, supervisor keys,
  // IA32_PKRS) is not offered by KVM at all (Linux arch/x86/kvm/cpuid.c kvm_set_cpu_caps has no
  // F(PKS); CR4_RESERVED_BITS in arch/x86/include/asm/kvm_host.h keeps CR4.PKS reserved), whatever
  // the host has.
  F("PKU", 7, "ecx", 3, modelled("runtime/x86/pkeys.ts and paging.ts: CR4.PKE, leaf bits 62:59, PKRU; RDPKRU/WRPKRU (isa/semantics/pkeys.ts)"), ["today"]),
  F("PKS", 7, "ecx", 31, absent("KVM does not virtualize supervisor protection keys: CR4.PKS stays reserved (kvm_host.h CR4_RESERVED_BITS) and IA32_PKRS unknown")),
  // Leaf 0x80000001.
  F("LAHF_LM", 0x8000_0001, "ecx", 0, insn(0x9f)),
  F("ABM", 0x8000_0001, "ecx", 5, insn(0xf3, 0x0f, 0xbd, 0xc0)), // lzcnt
  // Not an "insn" row: SYSCALL is #UD until the guest sets EFER.SCE (SDM Vol. 2B SYSCALL).
  F("SYSCALL", 0x8000_0001, "edx", 11, modelled("runtime/x86/isa/semantics/syscall.ts: SYSCALL/SYSRET with EFER.SCE and STAR/LSTAR/CSTAR/FMASK")),
  F("NX", 0x8000_0001, "edx", 20, modelled("runtime/x86/paging.ts: execute-disable with EFER.NXE")),
  F("GBPAGES", 0x8000_0001, "edx", 26, modelled("runtime/x86/paging.ts: 1 GiB pages (PDPTE.PS)")),
  F("RDTSCP", 0x8000_0001, "edx", 27, insn(0x0f, 0x01, 0xf9)),
  F("LM", 0x8000_0001, "edx", 29, modelled("IA-32e mode: EFER.LME/LMA, 64-bit decoding")),
  // KVM's leaf 0x40000001 EAX (kvm_para.h KVM_FEATURE_*; v4.1 offers bits 0-7 and 24).
  F("KVM_FEATURE_CLOCKSOURCE", 0x4000_0001, "eax", 0, absent(KVM_PV)),
  F("KVM_FEATURE_NOP_IO_DELAY", 0x4000_0001, "eax", 1, modelled("port 0x80 needs no delay: KVM passes it through (vcpu.ts I/O bitmap)")),
  F("KVM_FEATURE_CLOCKSOURCE2", 0x4000_0001, "eax", 3, absent(KVM_PV)),
  F("KVM_FEATURE_ASYNC_PF", 0x4000_0001, "eax", 4, absent(KVM_PV)),
  F("KVM_FEATURE_STEAL_TIME", 0x4000_0001, "eax", 5, absent(KVM_PV)),
  F("KVM_FEATURE_PV_EOI", 0x4000_0001, "eax", 6, absent(KVM_PV)),
  F("KVM_FEATURE_PV_UNHALT", 0x4000_0001, "eax", 7, absent(KVM_PV)),
  F("KVM_FEATURE_PV_TLB_FLUSH", 0x4000_0001, "eax", 9, absent(KVM_PV), ["today"]),
  F("KVM_FEATURE_PV_SEND_IPI", 0x4000_0001, "eax", 11, absent(KVM_PV), ["today"]),
  F("KVM_FEATURE_CLOCKSOURCE_STABLE_BIT", 0x4000_0001, "eax", 24, absent(KVM_PV)),
];

/** Whether the evidence of a feature holds in this model. */
export function featureModelled(f: CpuidFeature): boolean {
  const e = f.evidence;
  switch (e.kind) {
    case "insn":
      return decodeX86((i) => e.bytes[i] ?? 0, "long64").spec.sem !== "ud";
    case "msr":
      // The machine-check MSRs live in mce.ts (get/set_msr_mce); KVM advertises MCE and MCA (kvm_set_cpu_caps, CPUID_1_EDX).
      // The MTRRs in mtrr.ts (kvm_mtrr_get_msr / kvm_mtrr_set_msr).
      return msrInfo(e.code) !== undefined || isMceMsr(e.code) || isMtrrMsr(e.code);
    case "modelled":
      return true;
    case "absent":
      return false;
  }
}

const str4 = (s: string) => s.split("").reduce((v, c, i) => v | (c.charCodeAt(0) << (8 * i)), 0) >>> 0;

/** The identity fields (no feature flags), SDM Vol. 2 CPUID; the feature bits are ORed in by era. */
function identity(): Map<number, CpuidEntry> {
  return new Map<number, CpuidEntry>([
    // EAX of leaf 0 (highest basic leaf) is filled in below.
    [0x0, { eax: 0, ebx: str4("Genu"), edx: str4("ineI"), ecx: str4("ntel") }],
    // Family 6 model 0x3c stepping 3 (Haswell); EBX: APIC ID 0, bits 15:8 the CLFLUSH line size in
    // 8-byte units (8: 64 bytes), valid with CPUID.1:EDX.CLFSH, and bits 23:16 zero as QEMU 7.2 gives
    // one vCPU (cpu_x86_cpuid case 1: `8 << 8`); a VM of more vCPUs sets them and EDX.HTT
    // (cpuid-vm.ts smpLeaf1).
    [0x1, { eax: 0x306c3, ebx: 0x0000_0800, ecx: 0, edx: 0 }],
    [0x7, { eax: 0, ebx: 0, ecx: 0, edx: 0 }],
    // Extended topology (SDM Vol. 2A CPUID leaf 0BH): subleaf 0 of one vCPU; each VM's vCPUs see
    // theirs (cpuid-vm.ts topologyLeaf, QEMU's -smp topology and x2APIC IDs).
    [0xb, { eax: 0, ebx: 1, ecx: 0x100, edx: 0 }],
    [0x4000_0000, { eax: 0x4000_0001, ebx: str4("KVMK"), ecx: str4("VMKV"), edx: str4("M\0\0\0") }],
    [0x4000_0001, { eax: 0, ebx: 0, ecx: 0, edx: 0 }],
    [0x8000_0000, { eax: 0x8000_0008, ebx: 0, ecx: 0, edx: 0 }],
    [0x8000_0001, { eax: 0, ebx: 0, ecx: 0, edx: 0 }],
    // 39 physical and 48 linear address bits.
    [0x8000_0008, { eax: 0x3027, ebx: 0, ecx: 0, edx: 0 }],
  ]);
}

/** The table of one era: identity fields plus every feature the model backs and that era's KVM offers. */
export function cpuidTable(era: KvmEra): ReadonlyMap<number, CpuidEntry> {
  const t = identity();
  for (const f of CPUID_FEATURES) {
    if (f.eras && !f.eras.includes(era)) continue;
    if (!featureModelled(f)) continue;
    const e = t.get(f.leaf)!;
    e[f.reg] = (e[f.reg] | (1 << f.bit)) >>> 0;
  }
  if (t.get(1)!.ecx & CPUID_1_ECX_XSAVE) t.set(0xd, xsaveLeaf(0));
  t.get(0)!.eax = Math.max(...[...t.keys()].filter((l) => l < 0x4000_0000));
  return t;
}

/** CPUID.1:ECX.OSXSAVE, which follows CR4.OSXSAVE (SDM Vol. 2 Table 3-10; KVM's kvm_update_cpuid_runtime). */
export const CPUID_1_ECX_OSXSAVE = 1 << 27;
/** CPUID.1:ECX.XSAVE (SDM Vol. 2 Table 3-10). */
export const CPUID_1_ECX_XSAVE = 1 << 26;

/**
 * Leaf 0xD, processor extended state enumeration (SDM Vol. 2 CPUID leaf 0DH; KVM's __do_cpuid_func
 * case 0xd, which offers the host's XCR0 components it supports and zeros for the rest). Subleaf 0:
 * EDX:EAX the XCR0 bits that may be set, EBX the XSAVE area size for the XCR0 at reset (x87 only;
 * KVM recomputes it from the vCPU's XCR0, handlers.ts), ECX the size for every supported component.
 * Subleaf 1: EAX the XSAVEOPT/XSAVEC/XGETBV1/XSAVES flags (none modelled), EBX 0 without XSAVES,
 * ECX:EDX the supported IA32_XSS bits (none). Subleaf n ≥ 2: component n's size (EAX) and offset (EBX).
 */
export function xsaveLeaf(index: number): CpuidEntry {
  if (index === 0) return { eax: Number(SUPPORTED_XCR0 & 0xffff_ffffn), ebx: xstateRequiredSize(1n), ecx: xstateRequiredSize(SUPPORTED_XCR0), edx: Number(SUPPORTED_XCR0 >> 32n) };
  const c = XSAVE_COMPONENTS.find((x) => x.bit === index && x.bit >= 2);
  return c ? { eax: c.size, ebx: c.offset, ecx: 0, edx: 0 } : { eax: 0, ebx: 0, ecx: 0, edx: 0 };
}

/** Subleaves other than 0 that KVM's table holds (an entry per index: found), by leaf. */
const SUBLEAF_ENTRIES: ReadonlyMap<number, ReadonlySet<number>> = new Map([[0xd, new Set([1, ...XSAVE_COMPONENTS.filter((c) => c.bit >= 2).map((c) => c.bit)])]]);

const TABLES: Record<KvmEra, ReadonlyMap<number, CpuidEntry>> = { "2015": cpuidTable("2015"), today: cpuidTable("today") };

/** The highest basic leaf of the era's table (CPUID.0:EAX). */
export function maxBasicLeaf(era: KvmEra): number {
  return TABLES[era].get(0)!.eax;
}

/** Whether the era's CPUID advertises a feature (by CPUID_FEATURES name): guest_cpuid_has. */
export function cpuidHas(era: KvmEra, name: string): boolean {
  const f = CPUID_FEATURES.find((x) => x.name === name);
  if (!f) throw new Error(`unknown CPUID feature ${name}`);
  const e = TABLES[era].get(f.leaf);
  return e !== undefined && ((e[f.reg] >>> f.bit) & 1) === 1;
}

/**
 * Leaves whose subleaf (ECX) selects the entry: KVM_CPUID_FLAG_SIGNIFCANT_INDEX, set by
 * do_host_cpuid for these functions (arch/x86/kvm/cpuid.c, v4.1 and today). The table holds
 * subleaf 0 of each (leaf 7's EAX, the highest subleaf, is 0).
 */
const INDEXED_LEAVES = new Set([0x4, 0x7, 0xb, 0xd, 0xf, 0x10, 0x12, 0x14, 0x17, 0x18, 0x1d, 0x1e, 0x1f, 0x24, 0x8000_001d]);

/** Whether KVM looks `leaf` up by subleaf too (KVM_CPUID_FLAG_SIGNIFCANT_INDEX). */
export function isIndexedLeaf(leaf: number): boolean {
  return INDEXED_LEAVES.has(leaf);
}

/** kvm_find_cpuid_entry(vcpu, leaf, index): the entry whose function matches and, for an indexed leaf, whose index does. */
function findEntry(table: ReadonlyMap<number, CpuidEntry>, leaf: number, index: number): CpuidEntry | undefined {
  if (INDEXED_LEAVES.has(leaf) && index !== 0) {
    if (leaf === 0xd && table.has(0xd) && SUBLEAF_ENTRIES.get(0xd)!.has(index)) return xsaveLeaf(index);
    return undefined;
  }
  return table.get(leaf);
}

/**
 * The leaf KVM answers instead of one above its class's highest leaf: the highest basic leaf
 * (CPUID.0:EAX), as Intel CPUs do (SDM Vol. 2 CPUID: "If a value entered for CPUID.EAX is higher
 * than the maximum input value for basic or extended function … the data for the highest basic
 * information leaf is returned"). v4.1 check_cpuid_limit and today's get_out_of_range_cpuid_entry
 * agree for this table: the class is the hypervisor range 0x4000_00xx (today), the extended range
 * 0x8000_0000 or 0xC000_0000, or the basic range; a leaf at or below its class's highest leaf, or
 * a class with no entry in v4.1's extended case, gives no substitute (undefined).
 */
function outOfRangeLeaf(table: ReadonlyMap<number, CpuidEntry>, leaf: number): number | undefined {
  const basic = table.get(0);
  if (!basic) return undefined;
  const classLeaf = leaf >= 0x4000_0000 && leaf <= 0x4fff_ffff ? (leaf & 0xffff_ff00) >>> 0 : leaf >= 0xc000_0000 ? 0xc000_0000 : (leaf & 0x8000_0000) >>> 0;
  const cls = table.get(classLeaf);
  if (cls && leaf <= cls.eax) return undefined;
  return basic.eax;
}

/**
 * Whether the subleaf (ECX) decides kvm_cpuid's answer for `leaf`: the leaf, or the highest basic
 * leaf standing in for it, is indexed. Otherwise callers may cache the answer by leaf alone,
 * whatever the guest left in ECX.
 */
export function subleafDecides(leaf: number, era: KvmEra = "2015"): boolean {
  leaf >>>= 0;
  if (INDEXED_LEAVES.has(leaf)) return true;
  const table = TABLES[era];
  if (table.has(leaf)) return false;
  const sub = outOfRangeLeaf(table, leaf);
  return sub !== undefined && INDEXED_LEAVES.has(sub);
}

/** What kvm_cpuid answered: the entry (zeros when none), whether it matched exactly, and whether the highest basic leaf stood in. */
export interface CpuidAnswerEntry {
  entry: CpuidEntry;
  found: boolean;
  usedMaxBasic: boolean;
}

const ZEROS: CpuidEntry = Object.freeze({ eax: 0, ebx: 0, ecx: 0, edx: 0 });

/**
 * kvm_cpuid(): the era's entry for `leaf` and subleaf `index` (ECX); for a leaf above its class's
 * highest leaf, the highest basic leaf's entry for the same subleaf (`usedMaxBasic`, traced today
 * as ", used max basic"); zeros when neither exists (`found` false). Leaves and subleaves are
 * unsigned 32-bit numbers.
 */
export function kvmCpuid(leaf: number, era: KvmEra = "2015", index = 0): CpuidAnswerEntry {
  const table = TABLES[era];
  leaf >>>= 0;
  index >>>= 0;
  const exact = findEntry(table, leaf, index);
  if (exact) return { entry: exact, found: true, usedMaxBasic: false };
  const sub = outOfRangeLeaf(table, leaf);
  const stand = sub === undefined ? undefined : findEntry(table, sub, index);
  return stand ? { entry: stand, found: false, usedMaxBasic: true } : { entry: ZEROS, found: false, usedMaxBasic: false };
}

/**
 * The leaf whose entries KVM looks `leaf` up in: the leaf, or for one above its class's highest
 * leaf the highest basic leaf (v4.1 check_cpuid_limit; today get_out_of_range_cpuid_entry, which
 * also makes it the function kvm_cpuid's leaf 0xB/0x1F rule then sees).
 */
export function cpuidSourceLeaf(leaf: number, era: KvmEra): number {
  return outOfRangeLeaf(TABLES[era], leaf >>> 0) ?? leaf >>> 0;
}

/** The host's vendor (identity leaf 0): the modelled hosts are Intel. */
export const HOST_CPU_VENDOR = "GenuineIntel";

/**
 * MachineOptions.cpuVendor checked: undefined when unset or the host's own, else the 12-character
 * ASCII string (QEMU's `vendor=` takes exactly 12: target/i386/cpu.c x86_cpuid_set_vendor). Throws
 * ExitlabError otherwise.
 */
export function checkCpuVendor(vendor: string | undefined): string | undefined {
  if (vendor === undefined || vendor === HOST_CPU_VENDOR) return undefined;
  if (!/^[\x20-\x7e]{12}$/.test(vendor)) {
    throw new ExitlabError(`cpuVendor must be 12 ASCII characters, not ${JSON.stringify(vendor)}`, "e.g. GenuineIntel or AuthenticAMD (QEMU's -cpu ...,vendor=)");
  }
  return vendor;
}

/** CPUID.0's EBX, EDX, ECX for a vendor string (SDM Vol. 2 CPUID leaf 0: "Genu" "ineI" "ntel"). */
export function vendorRegisters(vendor: string): { ebx: number; edx: number; ecx: number } {
  return { ebx: str4(vendor.slice(0, 4)), edx: str4(vendor.slice(4, 8)), ecx: str4(vendor.slice(8, 12)) };
}

/**
 * em_syscall_is_enabled (arch/x86/kvm/emulate.c, v4.1 and today): outside 64-bit mode KVM's
 * emulator runs SYSCALL only for a guest whose CPUID vendor is AMD (or, today, Hygon); Intel's and
 * any other vendor's get #UD, as Intel CPUs do.
 */
export function syscallOutside64Allowed(vendor: string | undefined, era: KvmEra): boolean {
  return vendor === "AuthenticAMD" || (era !== "2015" && vendor === "HygonGenuine");
}
