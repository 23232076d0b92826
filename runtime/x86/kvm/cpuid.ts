// The CPUID table KVM answers from (QEMU hands it over with KVM_SET_CPUID2; kvm_emulate_cpuid looks
// leaves up). A modest Haswell-like "-cpu host" subset: vendor, family/model, the features the
// boot guest relies on (PAE, MSR, APIC, LM, NX), the hypervisor bit and KVM's signature leaf.
// Leaf layouts: Intel SDM Vol. 2 CPUID; KVM signature: Documentation/virtual/kvm/cpuid.txt.

export interface CpuidEntry {
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

const str4 = (s: string) => s.split("").reduce((v, c, i) => v | (c.charCodeAt(0) << (8 * i)), 0) >>> 0;

export const CPUID_TABLE: ReadonlyMap<number, CpuidEntry> = new Map([
  [0x0, { eax: 0xd, ebx: str4("Genu"), edx: str4("ineI"), ecx: str4("ntel") }],
  // Family 6 model 0x3c (Haswell); ECX bit 31 = hypervisor present; EDX: FPU, PSE, TSC, MSR, PAE, APIC, PGE, ...
  [0x1, { eax: 0x306c3, ebx: 0x0001_0800, ecx: 0xf7fa_3223, edx: 0x0f8b_fbff }],
  [0x4000_0000, { eax: 0x4000_0001, ebx: str4("KVMK"), ecx: str4("VMKV"), edx: str4("M\0\0\0") }],
  [0x4000_0001, { eax: 0x0100_07fb, ebx: 0, ecx: 0, edx: 0 }],
  [0x8000_0000, { eax: 0x8000_0008, ebx: 0, ecx: 0, edx: 0 }],
  // EDX bit 29 LM, bit 20 NX, bit 11 SYSCALL.
  [0x8000_0001, { eax: 0, ebx: 0, ecx: 0x21, edx: 0x2c10_0800 }],
  [0x8000_0008, { eax: 0x3027, ebx: 0, ecx: 0, edx: 0 }],
]);

/** kvm_cpuid(): the table entry, or zeros for a leaf the VMM did not provide. */
/** The answers, made once (they never change; callers do not modify them). */
const FOUND = new Map<CpuidEntry, { entry: CpuidEntry; found: boolean }>();
const NOT_FOUND: { entry: CpuidEntry; found: boolean } = Object.freeze({ entry: Object.freeze({ eax: 0, ebx: 0, ecx: 0, edx: 0 }), found: false });

export function kvmCpuid(leaf: number): { entry: CpuidEntry; found: boolean } {
  const e = CPUID_TABLE.get(leaf >>> 0);
  return e ? (FOUND.get(e) ?? FOUND.set(e, { entry: e, found: true }).get(e)!) : NOT_FOUND;
}
