// The exception syndrome (ESR_ELx) as data: the exception classes with Linux's names, and the ISS
// layouts of the classes exitlab raises. The CPU encodes syndromes from these layouts, KVM decodes
// them, `show esr` and the exit fields describe them, and tests decode them independently.
// Sources: Arm ARM (DDI 0487) D17.2.37 "ESR_EL2, Exception Syndrome Register (EL2)" and the ISS
// encoding sections it links (data abort, instruction abort, MSR/MRS trap, WFx, HVC/SMC/SVC);
// class names from Linux arch/arm64/include/asm/esr.h (ESR_ELx_EC_*).

import type { Documented } from "../core/machine.js";
import { decodeBits, encodeBits, encodeBits32, type BitLayout, type BitValues } from "../core/bitfields.js";

export interface ExceptionClass extends Documented {
  code: number;
  /** ISS layout of this class, when exitlab decodes it. */
  iss?: BitLayout;
}

/** ESR_ELx: EC 31:26, IL 25, ISS 24:0 (Arm ARM D17.2.37). */
export const ESR: BitLayout = {
  name: "ESR_ELx",
  source: "Arm ARM D17.2.37",
  fields: [
    { name: "iss", lsb: 0, width: 25, radix: "hex", doc: "instruction specific syndrome" },
    { name: "il", lsb: 25, width: 1, values: ["16-bit", "32-bit"], doc: "instruction length: 1 = 32-bit instruction" },
    { name: "ec", lsb: 26, width: 6, radix: "hex", doc: "exception class" },
  ],
};

/** ISS of a data abort (EC 0x24/0x25), Arm ARM D17.2.37 "ISS encoding for an exception from a Data Abort". */
export const DABT_ISS: BitLayout = {
  name: "data abort ISS",
  source: "Arm ARM D17.2.37, ISS encoding for a Data Abort",
  fields: [
    { name: "dfsc", lsb: 0, width: 6, radix: "hex", doc: "data fault status code" },
    { name: "wnr", lsb: 6, width: 1, values: ["read", "write"], doc: "write not read" },
    { name: "s1ptw", lsb: 7, width: 1, doc: "the fault was on a stage-2 translation of a stage-1 table walk" },
    { name: "cm", lsb: 8, width: 1, doc: "cache maintenance instruction" },
    { name: "ea", lsb: 9, width: 1, doc: "external abort type" },
    { name: "fnv", lsb: 10, width: 1, doc: "FAR not valid" },
    { name: "ar", lsb: 14, width: 1, doc: "acquire/release semantics (valid when ISV = 1)" },
    { name: "sf", lsb: 15, width: 1, doc: "the register is 64-bit (valid when ISV = 1)" },
    { name: "srt", lsb: 16, width: 5, doc: "syndrome register transfer: the Rt of the load/store (valid when ISV = 1)" },
    { name: "sse", lsb: 21, width: 1, doc: "syndrome sign extend (valid when ISV = 1)" },
    { name: "sas", lsb: 22, width: 2, values: ["byte", "halfword", "word", "doubleword"], doc: "syndrome access size (valid when ISV = 1)" },
    { name: "isv", lsb: 24, width: 1, doc: "instruction syndrome valid: bits 23:14 describe the access (0 for pairs, writeback forms, ...)" },
  ],
};

/** ISS of an instruction abort (EC 0x20/0x21). */
export const IABT_ISS: BitLayout = {
  name: "instruction abort ISS",
  source: "Arm ARM D17.2.37, ISS encoding for an Instruction Abort",
  fields: [
    { name: "ifsc", lsb: 0, width: 6, radix: "hex", doc: "instruction fault status code" },
    { name: "s1ptw", lsb: 7, width: 1, doc: "the fault was on a stage-2 translation of a stage-1 table walk" },
    { name: "ea", lsb: 9, width: 1, doc: "external abort type" },
    { name: "fnv", lsb: 10, width: 1, doc: "FAR not valid" },
  ],
};

/** ISS of a trapped MSR, MRS or System instruction (EC 0x18). */
export const SYS64_ISS: BitLayout = {
  name: "MSR/MRS trap ISS",
  source: "Arm ARM D17.2.37, ISS encoding for an exception from MSR, MRS, or System instruction execution",
  fields: [
    { name: "direction", lsb: 0, width: 1, values: ["write", "read"], doc: "0 = write (MSR), 1 = read (MRS)" },
    { name: "crm", lsb: 1, width: 4, doc: "CRm of the register" },
    { name: "rt", lsb: 5, width: 5, doc: "the general register transferred" },
    { name: "crn", lsb: 10, width: 4, doc: "CRn of the register" },
    { name: "op1", lsb: 14, width: 3, doc: "Op1 of the register" },
    { name: "op2", lsb: 17, width: 3, doc: "Op2 of the register" },
    { name: "op0", lsb: 20, width: 2, doc: "Op0 of the register" },
  ],
};

/** ISS of a trapped WFI/WFE (EC 0x01). */
export const WFX_ISS: BitLayout = {
  name: "WFx trap ISS",
  source: "Arm ARM D17.2.37, ISS encoding for an exception from a WFI or WFE instruction",
  fields: [
    { name: "ti", lsb: 0, width: 1, values: ["wfi", "wfe"], doc: "trapped instruction: 0 = WFI, 1 = WFE" },
    { name: "cond", lsb: 20, width: 4, doc: "condition code (AArch32 only; 0xe for AArch64)" },
    { name: "cv", lsb: 24, width: 1, doc: "condition code valid" },
  ],
};

/** ISS of SVC/HVC/SMC (EC 0x15/0x16/0x17): the immediate. */
export const CALL_ISS: BitLayout = {
  name: "SVC/HVC/SMC ISS",
  source: "Arm ARM D17.2.37, ISS encoding for an exception from HVC or SVC / SMC instruction execution",
  fields: [{ name: "imm16", lsb: 0, width: 16, radix: "hex", doc: "the instruction's immediate" }],
};

const SRC = "Arm ARM D17.2.37 ESR_EL2.EC; Linux arch/arm64/include/asm/esr.h";
const ec = <N extends string>(code: number, name: N, doc: string, iss?: BitLayout): ExceptionClass & { name: N } => ({ code, name, doc, iss, source: SRC });

export const EXCEPTION_CLASSES = [
  ec(0x00, "UNKNOWN", "Unknown reason: UNDEFINED instructions and unallocated encodings"),
  ec(0x01, "WFx", "WFI or WFE trapped by HCR_EL2.TWI/TWE", WFX_ISS),
  ec(0x03, "CP15_32", "AArch32 MCR/MRC to CP15"),
  ec(0x04, "CP15_64", "AArch32 MCRR/MRRC to CP15"),
  ec(0x05, "CP14_MR", "AArch32 MCR/MRC to CP14"),
  ec(0x06, "CP14_LS", "AArch32 LDC/STC to CP14"),
  ec(0x07, "FP_ASIMD", "Access to SIMD/floating point trapped by CPACR/CPTR"),
  ec(0x08, "CP10_ID", "AArch32 VMRS to an ID register"),
  ec(0x09, "PAC", "Pointer authentication instruction trapped by HCR_EL2.API"),
  ec(0x0a, "OTHER", "Other instructions trapped (LD64B/ST64B*, ...)"),
  ec(0x0c, "CP14_64", "AArch32 MRRC to CP14"),
  ec(0x0d, "BTI", "Branch target exception"),
  ec(0x0e, "ILL", "Illegal execution state"),
  ec(0x11, "SVC32", "SVC in AArch32"),
  ec(0x12, "HVC32", "HVC in AArch32"),
  ec(0x13, "SMC32", "SMC in AArch32 trapped by HCR_EL2.TSC"),
  ec(0x15, "SVC64", "SVC in AArch64 (a system call to EL1)", CALL_ISS),
  ec(0x16, "HVC64", "HVC in AArch64: a hypercall to EL2 (KVM: PSCI)", CALL_ISS),
  ec(0x17, "SMC64", "SMC in AArch64 trapped by HCR_EL2.TSC", CALL_ISS),
  ec(0x18, "SYS64", "MSR, MRS or System instruction trapped (HCR_EL2.TVM/TRVM, TACR, TIDx, TSW)", SYS64_ISS),
  ec(0x19, "SVE", "Access to SVE trapped by CPACR/CPTR"),
  ec(0x1a, "ERET", "ERETAA/ERETAB trapped (nested virtualization)"),
  ec(0x1c, "FPAC", "Pointer authentication failure"),
  ec(0x1d, "SME", "Access to SME trapped"),
  ec(0x1f, "IMP_DEF", "IMPLEMENTATION DEFINED exception to EL3"),
  ec(0x20, "IABT_LOW", "Instruction abort from a lower exception level (stage-2 fault: no mapping for the IPA)", IABT_ISS),
  ec(0x21, "IABT_CUR", "Instruction abort at the current exception level", IABT_ISS),
  ec(0x22, "PC_ALIGN", "PC alignment fault"),
  ec(0x24, "DABT_LOW", "Data abort from a lower exception level (stage-2 fault: RAM not yet mapped, or MMIO)", DABT_ISS),
  ec(0x25, "DABT_CUR", "Data abort at the current exception level", DABT_ISS),
  ec(0x26, "SP_ALIGN", "SP alignment fault"),
  ec(0x27, "MOPS", "Memory copy/set (FEAT_MOPS) exception"),
  ec(0x28, "FP_EXC32", "Floating-point exception in AArch32"),
  ec(0x2c, "FP_EXC64", "Floating-point exception in AArch64"),
  ec(0x2f, "SERROR", "SError interrupt"),
  ec(0x30, "BREAKPT_LOW", "Breakpoint from a lower exception level"),
  ec(0x31, "BREAKPT_CUR", "Breakpoint at the current exception level"),
  ec(0x32, "SOFTSTP_LOW", "Software step from a lower exception level"),
  ec(0x33, "SOFTSTP_CUR", "Software step at the current exception level"),
  ec(0x34, "WATCHPT_LOW", "Watchpoint from a lower exception level"),
  ec(0x35, "WATCHPT_CUR", "Watchpoint at the current exception level"),
  ec(0x38, "BKPT32", "BKPT instruction in AArch32"),
  ec(0x3a, "VECTOR32", "AArch32 vector catch"),
  ec(0x3c, "BRK64", "BRK instruction in AArch64"),
] as const satisfies readonly ExceptionClass[];

/** An exception class's name in EXCEPTION_CLASSES (esr.h's ESR_ELx_EC_* without the prefix). */
export type EcName = (typeof EXCEPTION_CLASSES)[number]["name"];

/** EC values by name, read from EXCEPTION_CLASSES (EC.HVC64 === 0x16); a misspelt name is a compile error. */
export const EC = Object.fromEntries(EXCEPTION_CLASSES.map((c) => [c.name, c.code])) as Readonly<Record<EcName, number>>;

const BY_CODE = new Map(EXCEPTION_CLASSES.map((c) => [c.code, c]));

export function exceptionClass(code: number): ExceptionClass {
  return BY_CODE.get(code) ?? { code, name: `EC_0x${code.toString(16)}`, doc: "exception class not modelled", source: SRC };
}

/** Fault status codes (DFSC/IFSC), Arm ARM D17.2.37: level-encoded kinds and the others used here. */
export const FSC = {
  addressSize: (level: number) => 0b000000 | level,
  translation: (level: number) => 0b000100 | level,
  accessFlag: (level: number) => 0b001000 | level,
  permission: (level: number) => 0b001100 | level,
  SYNC_EXTERNAL: 0b010000,
  ALIGNMENT: 0b100001,
} as const;

export function describeFsc(fsc: number): string {
  const level = fsc & 3;
  switch (fsc >> 2) {
    case 0: return `address size fault, level ${level}`;
    case 1: return `translation fault, level ${level}`;
    case 2: return `access flag fault, level ${level}`;
    case 3: return `permission fault, level ${level}`;
  }
  if (fsc === FSC.SYNC_EXTERNAL) return "synchronous external abort";
  if (fsc === FSC.ALIGNMENT) return "alignment fault";
  return `fault status 0x${fsc.toString(16)}`;
}

/** Build an ESR value: EC, IL (1 for every A64 instruction) and the ISS fields of the class's layout. */
export function encodeEsr(ecCode: number, iss: BitValues | bigint = 0n, il = 1): bigint {
  const layout = exceptionClass(ecCode).iss;
  // Every ISS layout fits in 25 bits: numbers, one BigInt at the end (trap rules raise these per exit).
  const issBits = typeof iss === "bigint" ? Number(iss) : layout ? encodeBits32(layout, iss) : 0;
  if (!Number.isInteger(ecCode) || ecCode < 0 || ecCode > 0x3f || (il !== 0 && il !== 1) || issBits < 0 || issBits > 0x1ff_ffff) {
    return encodeBits(ESR, { ec: ecCode, il, iss: issBits }); // throws the codec's RangeError
  }
  return BigInt(((ecCode << 26) | (il << 25) | issBits) >>> 0);
}

export interface DecodedEsr {
  ec: number;
  il: number;
  iss: number;
  cls: ExceptionClass;
  fields: BitValues;
}

export function decodeEsr(esr: bigint): DecodedEsr {
  const top = decodeBits(ESR, esr);
  const cls = exceptionClass(top.ec!);
  return { ec: top.ec!, il: top.il!, iss: top.iss!, cls, fields: cls.iss ? decodeBits(cls.iss, BigInt(top.iss!)) : {} };
}

/** Flat dotted fields of an ESR for exits and `show esr`: esr.ec, esr.il, esr.iss, esr.iss.<field>. */
export function esrFields(esr: bigint, prefix = "esr"): Record<string, number | string | bigint> {
  const d = decodeEsr(esr);
  const out: Record<string, number | string | bigint> = {
    [prefix]: esr,
    [`${prefix}.ec`]: d.ec,
    [`${prefix}.ec.name`]: d.cls.name,
    [`${prefix}.il`]: d.il,
    [`${prefix}.iss`]: d.iss,
  };
  if (d.cls.iss) for (const [k, v] of Object.entries(d.fields)) out[`${prefix}.iss.${k}`] = v;
  const fsc = d.fields.dfsc ?? d.fields.ifsc;
  if (fsc !== undefined) out[`${prefix}.iss.fsc.name`] = describeFsc(fsc);
  return out;
}

