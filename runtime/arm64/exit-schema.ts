// The arm64 exit schema: what the hardware model records per exit (ESR_EL2, FAR_EL2, HPFAR_EL2,
// the value a trapped MSR writes or x0 of an HVC, the instruction word) and the fields `show exit`
// and the queries see, derived from them: ESR_EL2 decoded by the exception class's ISS layout
// (esr.h / Arm ARM D17.2.37), the IPA from HPFAR_EL2, the system register by encoding, the
// disassembly. Derived fields are computed when shown or queried, not per exit.

import type { ExitField, ExitRow, ExitSchema } from "../core/exits.js";
import type { CostComponent } from "../core/cost.js";
import { EC, ESR, describeFsc, exceptionClass } from "./esr.js";
import { sysregByEncoding, genericSysregName } from "./sysregs.js";
import { disassembleA64 } from "./isa/index.js";
import { exitCost } from "./cost.js";
import type { HypVariant } from "./hyp/source.js";

/** The world-switch variant of an exit as its `switch` column holds it: bit 0 VHE, bit 1 EL1 state deferred, bit 2 GICv3. */
export function variantId(v: HypVariant): number {
  return (v.model === "vhe" ? 1 : 0) | (v.deferred ? 2 : 0) | (v.gic === "v3" ? 4 : 0);
}
export function variantOf(id: number): HypVariant {
  return { model: id & 1 ? "vhe" : "nvhe", deferred: (id & 2) !== 0, gic: id & 4 ? "v3" : "v2" };
}

/**
 * The exit code of an IRQ exit (ARM_EXCEPTION_IRQ): not an exception class (those are 0..0x3f), so
 * exits store it past them; its name is KVM's exit type, "IRQ".
 */
export const EXIT_IRQ = 0x100;
const reasonOf = (code: number) => (code === EXIT_IRQ ? "IRQ" : exceptionClass(code).name);

/** Presence flags of the optional values. */
export const F_FAR = 1, F_HPFAR = 2, F_VAL = 4, F_WORD = 8, F_USER = 16, F_KMMIO = 32;
/** The exit is of a VM with several vCPUs: its `vcpu` is shown (single-vCPU VMs' exits read vcpu 0 without showing it). */
export const F_SMP = 64;

export const ARM64_EXIT_COLUMNS = [
  { name: "esr", type: "u32" },
  { name: "far", type: "u64" },
  { name: "hpfar", type: "u64" },
  /** SYS64 writes: the value written (sysreg.value); HVC64: x0. */
  { name: "val", type: "u64" },
  /** The trapping instruction's word (disassembled when shown). */
  { name: "word", type: "u32" },
  /** Bytes KVM cleaned to PoC while handling (cost model). */
  { name: "flush", type: "f64" },
  /** The world-switch variant the exit went through (variantId). */
  { name: "switch", type: "u32" },
  /** The vCPU that exited (its vcpu_id). */
  { name: "vcpu", type: "u32" },
] as const;

const has = (flag: number) => (r: ExitRow) => (r.flags & flag) !== 0;
const esrOf = (r: ExitRow) => r.num("esr") >>> 0;
const issOf = (r: ExitRow) => esrOf(r) & 0x1ff_ffff;
const bits = (lsb: number, width: number) => (r: ExitRow) => (issOf(r) >>> lsb) & ((1 << width) - 1);

function sysregName(r: ExitRow): string {
  const iss = issOf(r);
  const enc = { op0: (iss >>> 20) & 3, op1: (iss >>> 14) & 7, crn: (iss >>> 10) & 15, crm: (iss >>> 1) & 15, op2: (iss >>> 17) & 7 };
  return sysregByEncoding(enc)?.name ?? genericSysregName(enc);
}

const ESR_FIELDS: readonly ExitField[] = [
  { name: "esr", width: 64, format: "hex", get: (r) => BigInt(esrOf(r)), doc: "ESR_EL2" },
  { name: "esr.ec", width: 6, format: "hex", get: (r) => BigInt(esrOf(r) >>> 26), doc: ESR.fields[2]!.doc },
  { name: "esr.ec.name", width: 0, format: "name", get: (r) => exceptionClass(esrOf(r) >>> 26).name, doc: "the exception class's name (esr.h)" },
  { name: "esr.il", width: 1, format: "dec", get: (r) => (esrOf(r) >>> 25) & 1, doc: ESR.fields[1]!.doc },
  { name: "esr.iss", width: 25, format: "hex", get: (r) => BigInt(issOf(r)), doc: ESR.fields[0]!.doc },
];

/** The exiting vCPU, shown for VMs with several. */
const VCPU_FIELD: ExitField = { name: "vcpu", width: 8, format: "dec", when: has(F_SMP), get: (r) => r.num("vcpu"), doc: "the vCPU that exited (vcpu_id)" };

function fieldsOf(code: number): readonly ExitField[] {
  if (code === EXIT_IRQ) {
    return [
      VCPU_FIELD,
      { name: "esr", width: 64, format: "hex", get: (r) => BigInt(esrOf(r)), doc: "ESR_EL2 as the exit left it: the last trap's (an IRQ exit writes none)" },
      { name: "esr.ec", width: 6, format: "hex", get: (r) => BigInt(esrOf(r) >>> 26), doc: "the last trap's exception class, which today's kvm_exit prints" },
    ];
  }
  const cls = exceptionClass(code);
  const out: ExitField[] = [VCPU_FIELD, ...ESR_FIELDS];
  for (const f of cls.iss?.fields ?? []) {
    const get = bits(f.lsb, f.width);
    // Hex fields as bigint, decimal ones as number: `show exit` and the language write them so.
    out.push(f.radix === "hex" ? { name: `esr.iss.${f.name}`, width: f.width, format: "hex", get: (r) => BigInt(get(r)), doc: f.doc } : { name: `esr.iss.${f.name}`, width: f.width, format: "dec", get, doc: f.doc });
  }
  const fsc = cls.iss?.fields.find((f) => f.name === "dfsc" || f.name === "ifsc");
  if (fsc) out.push({ name: "esr.iss.fsc.name", width: 0, format: "name", get: (r) => describeFsc(bits(fsc.lsb, fsc.width)(r)), doc: "the fault status code in words" });
  out.push(
    { name: "far", width: 64, format: "hex", when: has(F_FAR), get: (r) => r.big("far"), doc: "FAR_EL2: the faulting virtual address" },
    { name: "hpfar", width: 64, format: "hex", when: has(F_HPFAR), get: (r) => r.big("hpfar"), doc: "HPFAR_EL2: IPA[47:12] in bits 39:4" },
    { name: "ipa", width: 64, format: "hex", when: has(F_HPFAR), get: (r) => (r.big("hpfar") >> 4n) << 12n, doc: "the faulting IPA's page (from HPFAR_EL2)" },
  );
  if (code === EC.SYS64) {
    out.push(
      { name: "sysreg", width: 0, format: "name", get: sysregName, doc: "the system register accessed" },
      { name: "sysreg.value", width: 64, format: "hex", when: has(F_VAL), get: (r) => r.big("val"), doc: "the value a trapped MSR writes" },
    );
  }
  if (code === EC.HVC64) out.push({ name: "x0", width: 64, format: "hex", when: has(F_VAL), get: (r) => r.big("val"), doc: "x0 at the HVC (the PSCI function)" });
  out.push({ name: "instruction", width: 0, format: "name", when: has(F_WORD), get: (r) => disassembleA64(r.num("word"), r.pc), doc: "the trapping instruction" });
  return out;
}

const FIELDS = new Map<number, readonly ExitField[]>();

export const ARM64_EXIT_SCHEMA: ExitSchema = {
  arch: "arm64",
  pcName: "pc",
  codeText: (code) => (code === EXIT_IRQ ? "ARM_EXCEPTION_IRQ" : `EC 0x${code.toString(16)}`),
  columns: ARM64_EXIT_COLUMNS,
  reasonName: reasonOf,
  fields(code) {
    let f = FIELDS.get(code);
    if (!f) FIELDS.set(code, (f = fieldsOf(code)));
    return f;
  },
  cost(r): readonly CostComponent[] {
    return exitCost(reasonOf(r.code), { flushBytes: r.num("flush"), userspace: (r.flags & F_USER) !== 0, kernelMmio: (r.flags & F_KMMIO) !== 0 }, variantOf(r.num("switch"))).components;
  },
};
