// LDTR and TR for the guest CPU (SLDT, STR, LLDT, LTR) and the VM exits of descriptor-table exiting
// (LGDT/LIDT/SGDT/SIDT: reason 46; LLDT/LTR/SLDT/STR: reason 47). While the guest runs, LDTR and TR
// live in the VMCS guest-state fields (the processor saves them there at every exit anyway).
// Sources: Intel SDM Vol. 2 LLDT, LTR, SLDT, STR; Vol. 3 3.5 (system descriptor types, Table 3-2),
// 25.1.3 (descriptor-table exiting), 27.2.1/27.2.5 and Tables 27-10/27-11 (28-/29- in later editions).

import type { X86State, X86SystemSegment } from "./env.js";
import type { X86Insn } from "./isa/types.js";
import { SEG_ORDER } from "./isa/types.js";
import { EFER, type ExitInfo } from "./state.js";
import { lookupField, type Vmcs, type VmcsField } from "./vmx/fields.js";
import { EXIT } from "./vmx/reasons.js";
import { GDTR_IDTR_INFO, LDTR_TR_INFO, encodeQual } from "./vmx/qualification.js";

import { MASK64 } from "../core/bits.js";
import { VECTOR } from "./vectors.js";
import { isCanonical } from "./canonical.js";
const prefix = (which: "ldtr" | "tr") => (which === "ldtr" ? "GUEST_LDTR" : "GUEST_TR");

/** What loading a system segment needs of the CPU: its state, linear accesses and exceptions. */
export interface SystemTableCpu {
  readonly state: X86State;
  readLinear(lin: bigint, size: number): bigint;
  writeLinear(lin: bigint, size: number, value: bigint): void;
  raise(vector: number, errorCode?: number): never;
}

/** The selector, base, limit and access-rights fields of LDTR or TR. */
const fieldsOf = (which: "ldtr" | "tr") => (["SELECTOR", "BASE", "LIMIT", "AR_BYTES"] as const).map((f) => lookupField(`${prefix(which)}_${f}`).field) as [VmcsField, VmcsField, VmcsField, VmcsField];
/** Those fields looked up once (a delivery that switches stacks reads TR's base). */
const SYSTEM_SEGMENT_FIELDS = { ldtr: fieldsOf("ldtr"), tr: fieldsOf("tr") };

/** LDTR or TR from the VMCS guest-state fields (selector, base, limit, access rights). */
export function readSystemSegment(vmcs: Vmcs, which: "ldtr" | "tr"): X86SystemSegment {
  const [selector, base, limit, ar] = SYSTEM_SEGMENT_FIELDS[which];
  return {
    selector: Number(vmcs.readField(selector)),
    base: vmcs.readField(base),
    limit: Number(vmcs.readField(limit)),
    attributes: Number(vmcs.readField(ar)),
  };
}

/**
 * LLDT/LTR: the selector must name a GDT entry (TI = 0) of type LDT (2) or available TSS (9; the
 * 16-bit TSS type 1 only outside IA-32e mode), else #GP(selector); not present: #NP(selector). A
 * null selector makes LDTR unusable (access rights bit 16) and is #GP(0) for LTR. In IA-32e mode
 * the descriptor is 16 bytes (base 63:32 in the second quadword; a non-canonical base is #GP(selector)). LTR marks the TSS busy in the GDT.
 */
export function loadSystemSegment(cpu: SystemTableCpu, vmcs: Vmcs, which: "ldtr" | "tr", selector: number): void {
  const s = cpu.state;
  const p = prefix(which);
  const index = selector & ~7;
  if (index === 0) {
    if (which === "tr") cpu.raise(VECTOR.GP, 0);
    vmcs.write(`${p}_SELECTOR`, selector);
    vmcs.write(`${p}_AR_BYTES`, 1 << 16);
    return;
  }
  const long = (s.efer & EFER.LMA) !== 0n;
  if (selector & 4 || index + (long ? 15 : 7) > s.gdtr.limit) cpu.raise(VECTOR.GP, index);
  const addr = s.gdtr.base + BigInt(index);
  const d = cpu.readLinear(addr, 8);
  const access = Number((d >> 40n) & 0xffn);
  const type = access & 0x1f; // S (bit 4) must be 0: a system descriptor
  const ok = which === "ldtr" ? type === 2 : type === 9 || (!long && type === 1);
  if (!ok) cpu.raise(VECTOR.GP, index);
  if (!(access & 0x80)) cpu.raise(VECTOR.NP, index);
  const flags = Number((d >> 52n) & 0xfn);
  let limit = Number(((d >> 32n) & 0xf0000n) | (d & 0xffffn));
  if (flags & 8) limit = ((limit << 12) | 0xfff) >>> 0;
  let base = ((d >> 16n) & 0xffffffn) | (((d >> 56n) & 0xffn) << 24n);
  if (long) base |= (cpu.readLinear(addr + 8n, 8) & 0xffff_ffffn) << 32n;
  // IA-32e mode: a non-canonical base is #GP(selector), checked before TR is marked busy (KVM emulate.c __load_segment_descriptor).
  if (long && !isCanonical(base)) cpu.raise(VECTOR.GP, index);
  let ar = access | (flags << 12);
  if (which === "tr") {
    ar |= 2; // busy
    cpu.writeLinear(addr, 8, d | (2n << 40n));
  }
  vmcs.write(`${p}_SELECTOR`, selector);
  vmcs.write(`${p}_BASE`, base);
  vmcs.write(`${p}_LIMIT`, limit);
  vmcs.write(`${p}_AR_BYTES`, ar);
}

/**
 * The exit of a descriptor-table instruction under descriptor-table exiting: reason 46 (GDTR_IDTR)
 * or 47 (LDTR_TR); the qualification is the memory operand's displacement (sign-extended), and
 * VMX_INSTRUCTION_INFO describes the operand (Tables 27-10, 27-11).
 */
export function descriptorTableExit(insn: X86Insn): ExitInfo {
  const op = insn.operands[0];
  const gdt = insn.spec.sem === "ldt" || insn.spec.sem === "sdt";
  const identity = gdt ? (insn.spec.sem === "sdt" ? 0 : 2) + (insn.spec.arg === 1 ? 1 : 0) : insn.spec.arg!;
  const fields: Record<string, number> = { identity, address_size: insn.addressSize === 2 ? 0 : insn.addressSize === 4 ? 1 : 2 };
  let disp = 0n;
  if (op?.kind === "mem") {
    fields.segment = SEG_ORDER.indexOf(op.seg);
    fields.scaling = [1, 2, 4, 8].indexOf(op.scale);
    fields.index_reg = op.index ?? 0;
    fields.index_invalid = op.index === null ? 1 : 0;
    fields.base_reg = op.base ?? 0;
    fields.base_invalid = op.base === null ? 1 : 0;
    disp = op.disp & MASK64;
  } else if (op?.kind === "reg") {
    fields.mem_reg = 1;
    fields.reg1 = op.reg;
  }
  if (gdt) fields.operand_size = insn.operandSize === 2 ? 0 : 1;
  const instrInfo = Number(encodeQual(gdt ? GDTR_IDTR_INFO : LDTR_TR_INFO, fields));
  return { reason: gdt ? EXIT.GDTR_IDTR : EXIT.LDTR_TR, qualification: disp, instrInfo };
}
