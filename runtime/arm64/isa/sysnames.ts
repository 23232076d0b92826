// Names of system operands: system registers for MRS/MSR (the sysreg table, when it is present,
// else the generic S<op0>_<op1>_C<n>_C<m>_<op2> form of Arm ARM C5.3), barrier options
// (Arm ARM C6.2.81 DMB <option>), prefetch operations, and the PSTATE fields of MSR (immediate) (Arm ARM C5.1.3).

/** Packed sysreg operand: op0<<14 | op1<<11 | CRn<<7 | CRm<<3 | op2. */
export function packSysreg(op0: number, op1: number, crn: number, crm: number, op2: number): number {
  return (op0 << 14) | (op1 << 11) | (crn << 7) | (crm << 3) | op2;
}

export function unpackSysreg(v: number): { op0: number; op1: number; crn: number; crm: number; op2: number } {
  return { op0: (v >> 14) & 3, op1: (v >> 11) & 7, crn: (v >> 7) & 15, crm: (v >> 3) & 15, op2: v & 7 };
}

/** A source of register names (runtime/arm64/sysregs.ts plugs in here through setSysregNames). */
export interface SysregNames {
  byName(name: string): { op0: number; op1: number; crn: number; crm: number; op2: number } | undefined;
  byEncoding(enc: { op0: number; op1: number; crn: number; crm: number; op2: number }): { name: string } | undefined;
}

let names: SysregNames | undefined;

/** Install the system-register name table (done by names.ts from ../sysregs.js). */
export function setSysregNames(n: SysregNames | undefined): void {
  names = n;
}

export function formatSysreg(v: number): string {
  const e = unpackSysreg(v);
  const known = names?.byEncoding(e);
  if (known) return known.name.toLowerCase();
  return `s${e.op0}_${e.op1}_c${e.crn}_c${e.crm}_${e.op2}`;
}

export function parseSysreg(word: string): number | undefined {
  const m = /^s([0-3])_([0-7])_c(\d+)_c(\d+)_([0-7])$/i.exec(word);
  if (m) {
    const crn = Number(m[3]);
    const crm = Number(m[4]);
    if (crn > 15 || crm > 15) return undefined;
    return packSysreg(Number(m[1]), Number(m[2]), crn, crm, Number(m[5]));
  }
  const e = names?.byName(word.toLowerCase()) ?? names?.byName(word.toUpperCase());
  return e ? packSysreg(e.op0, e.op1, e.crn, e.crm, e.op2) : undefined;
}

/** DMB/DSB option names indexed by CRm (Arm ARM C6.2.81); gaps print as #imm. */
export const BARRIER_NAMES: (string | undefined)[] = [
  undefined, "oshld", "oshst", "osh", undefined, "nshld", "nshst", "nsh",
  undefined, "ishld", "ishst", "ish", undefined, "ld", "st", "sy",
];

/** MSR (immediate) PSTATE fields, in the order the table's view/build use. */
export const PSTATE_FIELDS: string[] = ["spsel", "daifset", "daifclr"];

/** PRFM <prfop> names indexed by the 5-bit Rt field: type (pld/pli/pst) << 3 | target (l1-l3) << 1 | policy (keep/strm) (Arm ARM C6.2.{PRFM}). */
export const PRFOP_NAMES: string[] = [];
["pld", "pli", "pst"].forEach((type, t) =>
  ["l1", "l2", "l3"].forEach((target, l) => ["keep", "strm"].forEach((policy, p) => (PRFOP_NAMES[(t << 3) | (l << 1) | p] = `${type}${target}${policy}`))),
);
