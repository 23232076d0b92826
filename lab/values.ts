// Values of the language: 64-bit numbers (bigint), strings, booleans; conversions and printing.
//
// A number is written the way the field reads it: hardware state (addresses, syndromes,
// qualifications, register values, exit fields the exit schema declares hex) in hex, as traces
// write them; counts, cycles, indexes and small fields in decimal. The radix is not part of the
// number: expr.ts derives it from where the number came from (`radixOf`), and variables keep
// the radix of the value they were given.

import type { FieldValue } from "../runtime/core/trace.js";
import type { Cell, ColumnType } from "./results.js";

export type Value = bigint | string | boolean;

/** How a number is written: hex for hardware state, dec for counts. */
export type Radix = "hex" | "dec";

/** A value with the radix its number is written in (ignored for strings and booleans). */
export interface Shown {
  value: Value;
  radix: Radix;
}

export function fromField(v: FieldValue): Value {
  return typeof v === "number" ? BigInt(Math.trunc(v)) : v;
}

/**
 * The radix of a machine field value: exit schemas and views give hex fields as bigint and
 * decimal ones as number (runtime/core/exits.ts ExitField.format).
 */
export function radixOfField(v: FieldValue): Radix {
  return typeof v === "bigint" ? "hex" : "dec";
}

export function truthy(v: Value): boolean {
  return typeof v === "bigint" ? v !== 0n : typeof v === "string" ? v !== "" : v;
}

const SIGN64 = 1n << 63n;

/**
 * A value as the REPL echoes it and `let` reports it: numbers in their radix (decimal ones
 * signed, so `1 - 2` is -1), strings quoted, booleans as true/false.
 */
export function formatValue(v: Value, radix: Radix = "dec"): string {
  if (typeof v === "bigint") return formatNumber(v, radix);
  if (typeof v === "string") return JSON.stringify(v);
  return String(v);
}

/** A value as `print` writes it: like formatValue, but strings as they are. */
export function printValue(v: Value, radix: Radix = "dec"): string {
  return typeof v === "string" ? v : formatValue(v, radix);
}

function formatNumber(v: bigint, radix: Radix): string {
  if (radix === "hex") return v < 0n ? "-0x" + (-v).toString(16) : "0x" + v.toString(16);
  // Values are unsigned 64-bit; a decimal one past 2^63 reads as the negative number it wraps.
  return (v >= SIGN64 && v < SIGN64 * 2n ? v - SIGN64 * 2n : v).toString();
}

import { hex } from "../runtime/core/bits.js";
export { hex };

/** A machine view cell as a table cell, and the column type it suggests. */
export function toCell(v: FieldValue): { cell: Cell; type: ColumnType } {
  if (typeof v === "bigint") return { cell: hex(v), type: "hex" };
  if (typeof v === "number") return { cell: v, type: "number" };
  if (typeof v === "boolean") return { cell: v, type: "bool" };
  return { cell: v, type: /^0x[0-9a-f]+$/i.test(v) ? "hex" : "string" };
}
