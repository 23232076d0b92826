// Decoding a register value field by field, as a table: the one shape every decoder returns
// (`decode esr 0x92000045`, `decode qual ept 0x582`, `decode vmcs PIN_BASED_VM_EXEC_CONTROL 0x3f`,
// `show esr`). Each arch declares its decoders next to the tables they read (arm64/decoders.ts,
// x86/decoders.ts); this file holds the interface and the row builder over bit layouts.

import type { BitField, BitLayout } from "./bitfields.js";
import type { MachineView } from "./machine.js";

/** One register decoder: `decode NAME [KIND] VALUE`. */
export interface RegisterDecoder {
  /** The word after `decode` (lower case): `esr`, `hcr`, `qual`, `vmcs`. */
  name: string;
  /** What the register is, in the manual's terms. */
  doc: string;
  /** Where its layout is defined. */
  source: string;
  /**
   * Registers whose layout depends on a second word (`qual cr`, `vmcs PIN_BASED_VM_EXEC_CONTROL`):
   * the words, each with its own doc. Absent for registers with one layout.
   */
  kinds?: readonly { name: string; doc: string }[];
  /** The decoded value (throws RangeError for a value wider than the register). */
  decode(value: bigint, kind?: string): MachineView;
}

/** The columns every decoder's table has. */
export const DECODE_COLUMNS = ["field", "bits", "value", "meaning"];

import { hex } from "./bits.js";

/** `31:26` or `7`. */
export function bitRange(lsb: number, width: number): string {
  return width === 1 ? `${lsb}` : `${lsb + width - 1}:${lsb}`;
}

/** A field's value of `value`. */
export function fieldValue(f: Pick<BitField, "lsb" | "width">, value: bigint): bigint {
  return (value >> BigInt(f.lsb)) & ((1n << BigInt(f.width)) - 1n);
}

export interface LayoutRowOptions {
  /** Prefix for field names (`iss.` for the ISS fields of an ESR). */
  prefix?: string;
  /** A meaning for a field's value beyond its symbolic name (fault status codes, register numbers). */
  meaning?: (field: BitField, v: bigint) => string | undefined;
  /** Bits no field covers are named as reserved rows when set; within `width` bits. */
  width?: number;
  /** Note on a set reserved bit (e.g. "default 1"), by bit number. */
  reservedNote?: (bit: number) => string | undefined;
}

/**
 * Rows of a decode table for `value` read through `layout`: one per field (name, bit range, value
 * in hex, meaning: the symbolic value and the field's doc), then one per set bit no field covers.
 */
export function layoutRows(layout: BitLayout, value: bigint, o: LayoutRowOptions = {}): string[][] {
  const rows: string[][] = [];
  let covered = 0n;
  for (const f of layout.fields) {
    covered |= ((1n << BigInt(f.width)) - 1n) << BigInt(f.lsb);
    const v = fieldValue(f, value);
    const sym = f.values?.[Number(v)];
    const extra = o.meaning?.(f, v);
    const meaning = [sym, extra].filter((x) => x !== undefined && x !== "").join(", ");
    rows.push([(o.prefix ?? "") + f.name, bitRange(f.lsb, f.width), hex(v), meaning ? `${meaning}: ${f.doc}` : f.doc]);
  }
  rows.push(...reservedRows(value, covered, o.width ?? 64, layout.source, o.reservedNote));
  return rows;
}

/** Rows for bits set in `value` outside `covered` (below `width`), and for bits above `width`. */
export function reservedRows(value: bigint, covered: bigint, width: number, source: string, note?: (bit: number) => string | undefined): string[][] {
  const rows: string[][] = [];
  for (let bit = 0; bit < 64; bit++) {
    const m = 1n << BigInt(bit);
    if (!(value & m) || covered & m) continue;
    const extra = note?.(bit);
    rows.push(["reserved", `${bit}`, "0x1", bit >= width ? `outside the ${width}-bit register` : extra ? `reserved, ${extra}` : `not defined by ${source}`]);
  }
  return rows;
}

/** A decode table. */
export function decodeView(title: string, rows: string[][]): MachineView {
  return { title, columns: DECODE_COLUMNS, rows };
}

/** A layout where each named bit is a 1-bit field (control registers, HCR_EL2, VMX controls). */
export function bitsLayout(name: string, source: string, bits: readonly { name: string; bit: number; width?: number; doc: string }[]): BitLayout {
  return { name, source, fields: bits.map((b) => ({ name: b.name, lsb: b.bit, width: b.width ?? 1, doc: b.doc })) };
}
