// The x86 exit schema: what the VMX hardware model records per exit (the VM-exit information
// fields of the VMCS: basic exit reason, exit qualification, guest-physical and guest-linear
// address, instruction length, interruption and IDT-vectoring information; the MSR index and
// value of RDMSR/WRMSR; the decoded instruction) and the fields `show exit` and the queries see,
// derived from them when shown: the qualification decoded by the layout of its exit reason
// (SDM Vol. 3 Tables 27-1..27-7), the interruption information, the MSR's name, the disassembly.

import type { BitLayout } from "../core/bitfields.js";
import type { ExitField, ExitRow, ExitSchema } from "../core/exits.js";
import { CR_ACCESS_QUAL, EPT_VIOLATION_QUAL, INTR_INFO, IO_QUAL } from "./vmx/qualification.js";
import { exitReason } from "./vmx/reasons.js";
import { msrInfo } from "./kvm/msrs.js";
import { disassembleX86, type X86Insn } from "./isa/index.js";
import { exitCost } from "./cost.js";

/** Presence flags of the optional values. */
export const F_GPA = 1, F_GLA = 2, F_INSN = 4;
/** The exit is of a VM with several vCPUs: its `vcpu` is shown (single-vCPU VMs' exits read vcpu 0 without showing it). */
export const F_SMP = 8;

export const X86_EXIT_COLUMNS = [
  { name: "qual", type: "u64" },
  { name: "gpa", type: "f64" },
  { name: "gla", type: "u64" },
  { name: "len", type: "u8" },
  { name: "intr", type: "u32" },
  { name: "idtv", type: "u32" },
  /** RDMSR/WRMSR: ECX, and the value WRMSR writes (EDX:EAX). */
  { name: "msr", type: "u32" },
  { name: "msrval", type: "u64" },
  /** The decoded instruction (shared with the decode cache), disassembled when shown. */
  { name: "insn", type: "ref" },
  /** The vCPU that exited (its vcpu_id). */
  { name: "vcpu", type: "u32" },
] as const;

/** The exit qualification layouts: the short name `decode qual KIND` takes, the basic exit reason, the layout. */
export const QUAL_KINDS: readonly { kind: string; reason: string; layout: BitLayout }[] = [
  { kind: "cr", reason: "CR_ACCESS", layout: CR_ACCESS_QUAL },
  { kind: "io", reason: "IO_INSTRUCTION", layout: IO_QUAL },
  { kind: "ept", reason: "EPT_VIOLATION", layout: EPT_VIOLATION_QUAL },
];

/** Exit qualification layouts by basic exit reason. */
export const QUAL_LAYOUTS: Readonly<Record<string, BitLayout>> = Object.fromEntries(QUAL_KINDS.map((q) => [q.reason, q.layout]));

const has = (flag: number) => (r: ExitRow) => (r.flags & flag) !== 0;
const reasonName = (code: number): string => {
  try {
    return exitReason(code).name;
  } catch {
    return `EXIT_0x${code.toString(16)}`;
  }
};

/** Fields of a bit layout read from a column, symbolic where the layout names the values. */
function layoutFields(prefix: string, layout: BitLayout, value: (r: ExitRow) => number, when?: (r: ExitRow) => boolean): ExitField[] {
  return layout.fields.map((f) => {
    const mask = f.width >= 32 ? 0xffff_ffff : (1 << f.width) - 1;
    const hexField = !f.values && f.radix === "hex";
    return {
      name: `${prefix}.${f.name}`,
      width: f.width,
      format: f.values ? "name" : hexField ? "hex" : "dec",
      when,
      get: (r: ExitRow) => {
        const v = ((value(r) >>> f.lsb) & mask) >>> 0;
        // Hex fields as bigint, decimal ones as number: `show exit` and the language write them so.
        return f.values ? (f.values[v] ?? v) : hexField ? BigInt(v) : v;
      },
      doc: f.doc,
    } satisfies ExitField;
  });
}

const qualLow = (r: ExitRow) => Number(r.big("qual") & 0xffff_ffffn);

function fieldsOf(code: number): readonly ExitField[] {
  const name = reasonName(code);
  const out: ExitField[] = [
    { name: "vcpu", width: 8, format: "dec", when: has(F_SMP), get: (r) => r.num("vcpu"), doc: "the vCPU that exited (vcpu_id)" },
    { name: "exit_reason", width: 0, format: "name", get: () => name, doc: "VM_EXIT_REASON (basic exit reason)" },
    { name: "exit_qualification", width: 64, format: "hex", get: (r) => r.big("qual"), doc: "EXIT_QUALIFICATION" },
    { name: "instruction_length", width: 4, format: "dec", get: (r) => r.num("len"), doc: "VM_EXIT_INSTRUCTION_LEN" },
    { name: "intr_info", width: 32, format: "hex", get: (r) => BigInt(r.num("intr") >>> 0), doc: "VM_EXIT_INTR_INFO" },
    { name: "idt_vectoring_info", width: 32, format: "hex", get: (r) => BigInt(r.num("idtv") >>> 0), doc: "IDT_VECTORING_INFO_FIELD" },
    { name: "guest_physical_address", width: 64, format: "hex", when: has(F_GPA), get: (r) => BigInt(r.num("gpa")), doc: "GUEST_PHYSICAL_ADDRESS" },
    { name: "guest_linear_address", width: 64, format: "hex", when: has(F_GLA), get: (r) => r.big("gla"), doc: "GUEST_LINEAR_ADDRESS" },
  ];
  const layout = QUAL_LAYOUTS[name];
  if (layout) out.push(...layoutFields("qual", layout, qualLow));
  if (name === "MSR_READ" || name === "MSR_WRITE") {
    out.push(
      { name: "msr", width: 32, format: "hex", get: (r) => BigInt(r.num("msr") >>> 0), doc: "ECX: the MSR" },
      { name: "msr.name", width: 0, format: "name", get: (r) => msrInfo(r.num("msr"))?.name ?? "unknown", doc: "the MSR's name" },
    );
    if (name === "MSR_WRITE") out.push({ name: "msr.value", width: 64, format: "hex", get: (r) => r.big("msrval"), doc: "EDX:EAX, the value written" });
  }
  out.push(...layoutFields("intr", INTR_INFO, (r) => r.num("intr"), (r) => r.num("intr") !== 0));
  out.push({ name: "instruction", width: 0, format: "name", when: (r) => has(F_INSN)(r) && r.ref("insn") !== undefined, get: (r) => disassembleX86(r.ref("insn") as X86Insn, r.pc), doc: "the exiting instruction (kept for the newest 65,536 distinct exiting instructions at least)" });
  return out;
}

const FIELDS = new Map<number, readonly ExitField[]>();

export const X86_EXIT_SCHEMA: ExitSchema = {
  arch: "x86_64",
  pcName: "rip",
  codeText: (code) => String(code),
  columns: X86_EXIT_COLUMNS,
  reasonName,
  fields(code) {
    let f = FIELDS.get(code);
    if (!f) FIELDS.set(code, (f = fieldsOf(code)));
    return f;
  },
  cost: (r) => exitCost(reasonName(r.code)).components,
};
