// Values of the language: 64-bit numbers (bigint), strings, booleans; conversions and printing.

import type { FieldValue } from "../runtime/core/trace.js";
import type { Cell, ColumnType } from "./results.js";

export type Value = bigint | string | boolean;

export function fromField(v: FieldValue): Value {
  return typeof v === "number" ? BigInt(Math.trunc(v)) : v;
}

export function truthy(v: Value): boolean {
  return typeof v === "bigint" ? v !== 0n : typeof v === "string" ? v !== "" : v;
}

/** Small numbers in decimal, larger ones (addresses, register values) in hex. */
export function formatValue(v: Value): string {
  if (typeof v === "bigint") return v >= -4096n && v < 4096n ? v.toString() : (v < 0n ? "-0x" + (-v).toString(16) : "0x" + v.toString(16));
  if (typeof v === "string") return JSON.stringify(v);
  return String(v);
}

export const hex = (v: bigint | number): string => "0x" + BigInt(v).toString(16);

/** A machine view cell as a table cell, and the column type it suggests. */
export function toCell(v: FieldValue): { cell: Cell; type: ColumnType } {
  if (typeof v === "bigint") return { cell: hex(v), type: "hex" };
  if (typeof v === "number") return { cell: v, type: "number" };
  if (typeof v === "boolean") return { cell: v, type: "bool" };
  return { cell: v, type: /^0x[0-9a-f]+$/i.test(v) ? "hex" : "string" };
}
