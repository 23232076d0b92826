// The VMCS as a field table. Encodings from Intel SDM Vol. 3 Appendix B ("Field Encoding in VMCS",
// Tables B-1..B-14) with Linux's names (arch/x86/include/asm/vmx.h, enum vmcs_field). An encoding
// carries its own shape (SDM 24.11.2, Table 24-21): bit 0 access type (full/high), bits 9:1 index,
// bits 11:10 type (0 control, 1 VM-exit information, 2 guest state, 3 host state), bits 14:13 width
// (0 16-bit, 1 64-bit, 2 32-bit, 3 natural width). The group is the talk's VMCS slide: the control
// type splits into VM-execution, VM-exit and VM-entry controls.

import { ExitlabError } from "../../core/errors.js";

export type VmcsWidth = 16 | 32 | 64 | "natural";
export type VmcsGroup = "guest" | "host" | "exec" | "exit" | "entry" | "exit-info";

export const VMCS_GROUPS: readonly { group: VmcsGroup; title: string }[] = [
  { group: "guest", title: "Guest state" },
  { group: "host", title: "Host state" },
  { group: "exec", title: "VM-execution controls (trap controls)" },
  { group: "exit", title: "VM-exit controls" },
  { group: "entry", title: "VM-entry controls" },
  { group: "exit-info", title: "VM-exit information" },
];

export interface VmcsField {
  name: string;
  encoding: number;
  width: VmcsWidth;
  group: VmcsGroup;
  /** Index of the field's value in a Vmcs (the table order). */
  slot: number;
  /**
   * What a write to the field tells VM entry (Vmcs.guestWrites): 1 = GUEST_RIP, 2 = another
   * guest-state field or the VM-entry controls, 0 = neither.
   */
  entryKind: 0 | 1 | 2;
  /** GUEST_CR0/CR3/CR4 or a CR0/CR4 guest/host mask: a write bumps Vmcs.crWrites (KVM's decache). */
  cr: boolean;
  /** GUEST_CR0, GUEST_CR3 or GUEST_CR4: a write leaves Vmcs.crsOnly set (VM entry may reload just them). */
  guestCr: boolean;
  /** Largest value kept as a number (64-bit and natural width: 2^53 - 1; larger ones are BigInts). */
  max: number;
}

/** Width from encoding bits 14:13 (SDM Table 24-21). */
export function widthOfEncoding(encoding: number): VmcsWidth {
  return ([16, 64, 32, "natural"] as const)[(encoding >> 13) & 3]!;
}

/** Type from encoding bits 11:10: control, exit information, guest state, host state. */
export function typeOfEncoding(encoding: number): "control" | "exit-info" | "guest" | "host" {
  return (["control", "exit-info", "guest", "host"] as const)[(encoding >> 10) & 3]!;
}

type Row = readonly [name: string, encoding: number, group?: VmcsGroup];

// Control-type rows name their group; other types follow from the encoding.
const ROWS = [
  // 16-bit (SDM Tables B-1..B-3)
  ["VIRTUAL_PROCESSOR_ID", 0x0000, "exec"],
  ["POSTED_INTR_NV", 0x0002, "exec"],
  ["GUEST_ES_SELECTOR", 0x0800], ["GUEST_CS_SELECTOR", 0x0802], ["GUEST_SS_SELECTOR", 0x0804],
  ["GUEST_DS_SELECTOR", 0x0806], ["GUEST_FS_SELECTOR", 0x0808], ["GUEST_GS_SELECTOR", 0x080a],
  ["GUEST_LDTR_SELECTOR", 0x080c], ["GUEST_TR_SELECTOR", 0x080e], ["GUEST_INTR_STATUS", 0x0810],
  ["HOST_ES_SELECTOR", 0x0c00], ["HOST_CS_SELECTOR", 0x0c02], ["HOST_SS_SELECTOR", 0x0c04],
  ["HOST_DS_SELECTOR", 0x0c06], ["HOST_FS_SELECTOR", 0x0c08], ["HOST_GS_SELECTOR", 0x0c0a],
  ["HOST_TR_SELECTOR", 0x0c0c],
  // 64-bit (SDM Tables B-4..B-7)
  ["IO_BITMAP_A", 0x2000, "exec"], ["IO_BITMAP_B", 0x2002, "exec"], ["MSR_BITMAP", 0x2004, "exec"],
  ["VM_EXIT_MSR_STORE_ADDR", 0x2006, "exit"], ["VM_EXIT_MSR_LOAD_ADDR", 0x2008, "exit"],
  ["VM_ENTRY_MSR_LOAD_ADDR", 0x200a, "entry"], ["TSC_OFFSET", 0x2010, "exec"],
  ["VIRTUAL_APIC_PAGE_ADDR", 0x2012, "exec"], ["APIC_ACCESS_ADDR", 0x2014, "exec"],
  ["EPT_POINTER", 0x201a, "exec"],
  ["GUEST_PHYSICAL_ADDRESS", 0x2400],
  ["VMCS_LINK_POINTER", 0x2800], ["GUEST_IA32_DEBUGCTL", 0x2802], ["GUEST_IA32_PAT", 0x2804],
  ["GUEST_IA32_EFER", 0x2806], ["GUEST_IA32_PERF_GLOBAL_CTRL", 0x2808],
  ["GUEST_PDPTR0", 0x280a], ["GUEST_PDPTR1", 0x280c], ["GUEST_PDPTR2", 0x280e], ["GUEST_PDPTR3", 0x2810],
  ["HOST_IA32_PAT", 0x2c00], ["HOST_IA32_EFER", 0x2c02], ["HOST_IA32_PERF_GLOBAL_CTRL", 0x2c04],
  // 32-bit (SDM Tables B-8..B-11)
  ["PIN_BASED_VM_EXEC_CONTROL", 0x4000, "exec"], ["CPU_BASED_VM_EXEC_CONTROL", 0x4002, "exec"],
  ["EXCEPTION_BITMAP", 0x4004, "exec"], ["PAGE_FAULT_ERROR_CODE_MASK", 0x4006, "exec"],
  ["PAGE_FAULT_ERROR_CODE_MATCH", 0x4008, "exec"], ["CR3_TARGET_COUNT", 0x400a, "exec"],
  ["VM_EXIT_CONTROLS", 0x400c, "exit"], ["VM_EXIT_MSR_STORE_COUNT", 0x400e, "exit"],
  ["VM_EXIT_MSR_LOAD_COUNT", 0x4010, "exit"], ["VM_ENTRY_CONTROLS", 0x4012, "entry"],
  ["VM_ENTRY_MSR_LOAD_COUNT", 0x4014, "entry"], ["VM_ENTRY_INTR_INFO_FIELD", 0x4016, "entry"],
  ["VM_ENTRY_EXCEPTION_ERROR_CODE", 0x4018, "entry"], ["VM_ENTRY_INSTRUCTION_LEN", 0x401a, "entry"],
  ["TPR_THRESHOLD", 0x401c, "exec"], ["SECONDARY_VM_EXEC_CONTROL", 0x401e, "exec"],
  ["PLE_GAP", 0x4020, "exec"], ["PLE_WINDOW", 0x4022, "exec"],
  ["VM_INSTRUCTION_ERROR", 0x4400], ["VM_EXIT_REASON", 0x4402], ["VM_EXIT_INTR_INFO", 0x4404],
  ["VM_EXIT_INTR_ERROR_CODE", 0x4406], ["IDT_VECTORING_INFO_FIELD", 0x4408],
  ["IDT_VECTORING_ERROR_CODE", 0x440a], ["VM_EXIT_INSTRUCTION_LEN", 0x440c], ["VMX_INSTRUCTION_INFO", 0x440e],
  ["GUEST_ES_LIMIT", 0x4800], ["GUEST_CS_LIMIT", 0x4802], ["GUEST_SS_LIMIT", 0x4804], ["GUEST_DS_LIMIT", 0x4806],
  ["GUEST_FS_LIMIT", 0x4808], ["GUEST_GS_LIMIT", 0x480a], ["GUEST_LDTR_LIMIT", 0x480c], ["GUEST_TR_LIMIT", 0x480e],
  ["GUEST_GDTR_LIMIT", 0x4810], ["GUEST_IDTR_LIMIT", 0x4812],
  ["GUEST_ES_AR_BYTES", 0x4814], ["GUEST_CS_AR_BYTES", 0x4816], ["GUEST_SS_AR_BYTES", 0x4818],
  ["GUEST_DS_AR_BYTES", 0x481a], ["GUEST_FS_AR_BYTES", 0x481c], ["GUEST_GS_AR_BYTES", 0x481e],
  ["GUEST_LDTR_AR_BYTES", 0x4820], ["GUEST_TR_AR_BYTES", 0x4822],
  ["GUEST_INTERRUPTIBILITY_INFO", 0x4824], ["GUEST_ACTIVITY_STATE", 0x4826], ["GUEST_SYSENTER_CS", 0x482a],
  ["VMX_PREEMPTION_TIMER_VALUE", 0x482e],
  ["HOST_IA32_SYSENTER_CS", 0x4c00],
  // natural width (SDM Tables B-12..B-14)
  ["CR0_GUEST_HOST_MASK", 0x6000, "exec"], ["CR4_GUEST_HOST_MASK", 0x6002, "exec"],
  ["CR0_READ_SHADOW", 0x6004, "exec"], ["CR4_READ_SHADOW", 0x6006, "exec"],
  ["CR3_TARGET_VALUE0", 0x6008, "exec"], ["CR3_TARGET_VALUE1", 0x600a, "exec"],
  ["CR3_TARGET_VALUE2", 0x600c, "exec"], ["CR3_TARGET_VALUE3", 0x600e, "exec"],
  ["EXIT_QUALIFICATION", 0x6400], ["EXIT_IO_RCX", 0x6402], ["EXIT_IO_RSI", 0x6404], ["EXIT_IO_RDI", 0x6406],
  ["EXIT_IO_RIP", 0x6408], ["GUEST_LINEAR_ADDRESS", 0x640a],
  ["GUEST_CR0", 0x6800], ["GUEST_CR3", 0x6802], ["GUEST_CR4", 0x6804],
  ["GUEST_ES_BASE", 0x6806], ["GUEST_CS_BASE", 0x6808], ["GUEST_SS_BASE", 0x680a], ["GUEST_DS_BASE", 0x680c],
  ["GUEST_FS_BASE", 0x680e], ["GUEST_GS_BASE", 0x6810], ["GUEST_LDTR_BASE", 0x6812], ["GUEST_TR_BASE", 0x6814],
  ["GUEST_GDTR_BASE", 0x6816], ["GUEST_IDTR_BASE", 0x6818], ["GUEST_DR7", 0x681a], ["GUEST_RSP", 0x681c],
  ["GUEST_RIP", 0x681e], ["GUEST_RFLAGS", 0x6820], ["GUEST_PENDING_DBG_EXCEPTIONS", 0x6822],
  ["GUEST_SYSENTER_ESP", 0x6824], ["GUEST_SYSENTER_EIP", 0x6826],
  ["HOST_CR0", 0x6c00], ["HOST_CR3", 0x6c02], ["HOST_CR4", 0x6c04], ["HOST_FS_BASE", 0x6c06],
  ["HOST_GS_BASE", 0x6c08], ["HOST_TR_BASE", 0x6c0a], ["HOST_GDTR_BASE", 0x6c0c], ["HOST_IDTR_BASE", 0x6c0e],
  ["HOST_IA32_SYSENTER_ESP", 0x6c10], ["HOST_IA32_SYSENTER_EIP", 0x6c12], ["HOST_RSP", 0x6c14], ["HOST_RIP", 0x6c16],
] as const satisfies readonly Row[];

/** A VMCS field's name (the SDM Appendix B / Linux vmx.h spelling); `NAME_HIGH` is the upper half of a 64-bit field. */
export type VmcsFieldName = (typeof ROWS)[number][0];
/** What read/write take: a field's name, its `_HIGH` half, or an encoding (VMREAD/VMWRITE's operand). */
export type VmcsKey = VmcsFieldName | `${VmcsFieldName}_HIGH` | number;

const CR_FIELDS = new Set(["GUEST_CR0", "GUEST_CR3", "GUEST_CR4", "CR0_GUEST_HOST_MASK", "CR4_GUEST_HOST_MASK"]);
const GUEST_CR_FIELDS = new Set(["GUEST_CR0", "GUEST_CR3", "GUEST_CR4"]);

export const VMCS_FIELDS: readonly VmcsField[] = ROWS.map(([name, encoding, group], slot) => {
  const t = typeOfEncoding(encoding);
  const g: VmcsGroup = t === "control" ? group! : t;
  if (t === "control" && !group) throw new Error(`VMCS table: control field ${name} needs a group`);
  const entryKind = name === "GUEST_RIP" ? 1 : g === "guest" || name === "VM_ENTRY_CONTROLS" ? 2 : 0;
  const width = widthOfEncoding(encoding);
  const max = width === 16 ? 0xffff : width === 32 ? 0xffff_ffff : Number.MAX_SAFE_INTEGER;
  return { name, encoding, width, group: g, slot, entryKind, cr: CR_FIELDS.has(name), guestCr: GUEST_CR_FIELDS.has(name), max };
});

const byName = new Map(VMCS_FIELDS.map((f) => [f.name, f]));
const byEncoding = new Map(VMCS_FIELDS.map((f) => [f.encoding, f]));

export class VmcsError extends ExitlabError {
  constructor(message: string) {
    super(message, "see `show vmcs` for the field names");
    this.name = "VmcsError";
  }
}

const byKeyString = new Map<string, { field: VmcsField; high: boolean }>();
const byKeyNumber = new Map<number, { field: VmcsField; high: boolean }>();

/** Resolve a name (GUEST_CR0, guest_cr0, FOO_HIGH) or an encoding; `high` = the upper half of a 64-bit field. */
export function lookupField(key: string | number): { field: VmcsField; high: boolean } {
  const cache = typeof key === "string" ? byKeyString : byKeyNumber;
  const hit = (cache as Map<string | number, { field: VmcsField; high: boolean }>).get(key);
  if (hit) return hit;
  const r = resolveField(key);
  (cache as Map<string | number, { field: VmcsField; high: boolean }>).set(key, r);
  return r;
}

function resolveField(key: string | number): { field: VmcsField; high: boolean } {
  if (typeof key === "number") {
    const f = byEncoding.get(key & ~1);
    if (!f || ((key & 1) === 1 && f.width !== 64)) throw new VmcsError(`unsupported VMCS field encoding 0x${key.toString(16)}`);
    return { field: f, high: (key & 1) === 1 };
  }
  const upper = key.toUpperCase();
  const direct = byName.get(upper);
  if (direct) return { field: direct, high: false };
  if (upper.endsWith("_HIGH")) {
    const f = byName.get(upper.slice(0, -5));
    if (f && f.width === 64) return { field: f, high: true };
  }
  throw new VmcsError(`unknown VMCS field ${key}`);
}

const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);

function widthMask(w: VmcsWidth): bigint {
  return w === 16 ? 0xffffn : w === 32 ? 0xffff_ffffn : 0xffff_ffff_ffff_ffffn;
}

/** Slots of the basic VM-exit information fields (SDM Vol. 3 24.9.1), for Vmcs.writeExitInfo. */
const slotOf = (name: string): number => {
  const f = VMCS_FIELDS.find((x) => x.name === name);
  if (!f) throw new Error(`no VMCS field ${name}`);
  return f.slot;
};
const EXIT_SLOTS = {
  reason: slotOf("VM_EXIT_REASON"), qualification: slotOf("EXIT_QUALIFICATION"), gpa: slotOf("GUEST_PHYSICAL_ADDRESS"), gla: slotOf("GUEST_LINEAR_ADDRESS"),
  length: slotOf("VM_EXIT_INSTRUCTION_LEN"), intrInfo: slotOf("VM_EXIT_INTR_INFO"), intrError: slotOf("VM_EXIT_INTR_ERROR_CODE"), idtVectoring: slotOf("IDT_VECTORING_INFO_FIELD"),
};

/**
 * One VMCS: a value per field of the table (by slot); reads and writes truncate to the field's
 * width (SDM 30.3 VMREAD/VMWRITE). A value below 2^53 is a number in `num` (no BigInt per write
 * or per readNum); a larger one is NaN there and its BigInt in `big`.
 */
export class Vmcs {
  private readonly num = new Float64Array(VMCS_FIELDS.length);
  private readonly big: (bigint | undefined)[] = new Array(VMCS_FIELDS.length).fill(undefined);
  /**
   * How the guest-state area relates to the guest CPU since the last saveGuestState (the VM
   * exit): 0 = unchanged, 1 = only GUEST_RIP written (KVM skipped an instruction), 2 = other
   * guest-state fields or the VM-entry controls written. VM entry loads the state only when needed.
   */
  guestWrites: 0 | 1 | 2 = 2;
  /**
   * While guestWrites is 2: whether every guest-state field written since the last save was
   * GUEST_CR0, GUEST_CR3 or GUEST_CR4 (besides GUEST_RIP; the entry controls unwritten). KVM's
   * MOV-to-CR handlers write no more, and VM entry then loads just those (guest-state.ts).
   */
  crsOnly = false;
  /** What vmx/guest-state.ts keeps about the last save (its own record; null: none). */
  guestRecord: unknown = null;
  /** Writes to guest-state fields other than GUEST_RIP and to the VM-entry controls so far (what VM entry checks). */
  entryWrites = 0;
  /** Writes to GUEST_CR0/CR3/CR4 and the CR0/CR4 guest/host masks so far (KVM re-reads them only after one). */
  crWrites = 0;

  read(key: VmcsKey): bigint {
    const { field, high } = lookupField(key);
    const v = this.readField(field);
    return high ? v >> 32n : v;
  }

  /** A field's value by its table entry (no name lookup). */
  readField(field: VmcsField): bigint {
    const x = this.num[field.slot]!;
    return x === x ? BigInt(x) : this.big[field.slot]!;
  }

  /**
   * A field's value as a number, with no BigInt: exact below 2^53 (every 16- and 32-bit field;
   * 64-bit and natural-width fields holding a smaller value); above, the nearest double.
   */
  readNum(field: VmcsField): number {
    const x = this.num[field.slot]!;
    return x === x ? x : Number(this.big[field.slot]!);
  }

  write(key: VmcsKey, value: bigint | number): void {
    this.writeAny(key, value);
  }

  /** write() of a name or encoding not known at compile time (VMWRITE's operand, a user's name). */
  private writeAny(key: string | number, value: bigint | number): void {
    const { field, high } = lookupField(key);
    if (high) {
      const v = BigInt(value);
      const old = this.readField(field);
      this.writeField(field, (old & 0xffff_ffffn) | ((v & 0xffff_ffffn) << 32n));
    } else this.writeField(field, value);
  }

  /** Write a field by its table entry (no name lookup); truncated to the field's width. */
  writeField(field: VmcsField, value: bigint | number): void {
    const slot = field.slot;
    if (typeof value === "number" && value >= 0 && value <= field.max && Number.isInteger(value)) this.num[slot] = value;
    else {
      const v = BigInt(value) & widthMask(field.width);
      if (v <= MAX_SAFE_BIG) this.num[slot] = Number(v);
      else (this.num[slot] = NaN), (this.big[slot] = v);
    }
    if (field.entryKind === 1) this.guestWrites = this.guestWrites < 2 ? 1 : 2;
    else if (field.entryKind === 2) {
      if (this.guestWrites !== 2) this.crsOnly = field.guestCr;
      else if (!field.guestCr) this.crsOnly = false;
      this.guestWrites = 2;
      this.entryWrites++;
    }
    if (field.cr) this.crWrites++;
  }

  /**
   * VM exit (SDM Vol. 3 27.2): the basic VM-exit information fields at once — exit reason,
   * qualification, guest-physical and guest-linear address, instruction length, interruption
   * information and error code, IDT-vectoring information. The 32-bit ones are stored as given
   * (unsigned 32-bit numbers); the 64-bit ones as writeField stores them. None of them is a
   * guest-state or control field, so the entry bookkeeping is untouched.
   */
  writeExitInfo(reason: number, qualification: bigint | number, gpa: number, gla: bigint | number, length: number, intrInfo: number, intrError: number, idtVectoring: number): void {
    const n = this.num;
    n[EXIT_SLOTS.reason] = reason >>> 0;
    n[EXIT_SLOTS.length] = length >>> 0;
    n[EXIT_SLOTS.intrInfo] = intrInfo >>> 0;
    n[EXIT_SLOTS.intrError] = intrError >>> 0;
    n[EXIT_SLOTS.idtVectoring] = idtVectoring >>> 0;
    if (typeof qualification === "number" && qualification >= 0 && qualification <= Number.MAX_SAFE_INTEGER) n[EXIT_SLOTS.qualification] = qualification;
    else this.writeField(VMCS_FIELDS[EXIT_SLOTS.qualification]!, qualification);
    if (gpa >= 0 && gpa <= Number.MAX_SAFE_INTEGER) n[EXIT_SLOTS.gpa] = gpa;
    else this.writeField(VMCS_FIELDS[EXIT_SLOTS.gpa]!, gpa);
    if (typeof gla === "number" && gla >= 0 && gla <= Number.MAX_SAFE_INTEGER) n[EXIT_SLOTS.gla] = gla;
    else this.writeField(VMCS_FIELDS[EXIT_SLOTS.gla]!, gla);
  }

  /** VMREAD by name or encoding (SDM Vol. 3 30.3). */
  vmread(key: string | number): bigint {
    const { field, high } = lookupField(key);
    const v = this.readField(field);
    return high ? v >> 32n : v;
  }

  /** VMWRITE by name or encoding; the value is truncated to the field's width. */
  vmwrite(key: string | number, value: bigint | number): void {
    this.writeAny(key, value);
  }

  /** Read a 32-bit control as a number. */
  read32(key: VmcsKey): number {
    return Number(this.read(key) & 0xffff_ffffn);
  }

  setBits(key: VmcsKey, bits: number, on: boolean): void {
    const v = this.read32(key);
    this.write(key, on ? (v | bits) >>> 0 : (v & ~bits) >>> 0);
  }

  /** All fields of a group with their values, in table order. */
  group(group: VmcsGroup): { field: VmcsField; value: bigint }[] {
    return VMCS_FIELDS.filter((f) => f.group === group).map((f) => ({ field: f, value: this.readField(f) }));
  }
}
