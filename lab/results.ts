// The one result model every front end renders (CLI text, kernel HTML/vega-lite, JSON, TS API).
// Values are plain JSON-safe data: 64-bit values appear as "0x…" strings in hex columns.

export type ColumnType = "number" | "hex" | "string" | "bool";
export type Cell = string | number | boolean;

export interface Column {
  name: string;
  type: ColumnType;
}

export interface TextResult {
  kind: "text";
  text: string;
  line: number;
}

/** A bare expression's value, written as the field reads it: the REPL's echo, the kernel's execute_result. */
export interface ValueResult {
  kind: "value";
  text: string;
  /** What the value is: a decimal or hex number, a string or a boolean. */
  type: ColumnType;
  line: number;
}

/** What `print` writes: standard output (a stdout stream in the kernel). */
export interface PrintResult {
  kind: "print";
  text: string;
  line: number;
}

export interface TableResult {
  kind: "table";
  title: string;
  columns: Column[];
  rows: Cell[][];
  line: number;
}

export interface ChartResult {
  kind: "chart";
  title: string;
  /** A vega-lite v5 spec with its data inline. */
  spec: Record<string, unknown>;
  /** A short text description (what the terminal prints). */
  summary: string;
  line: number;
}

export interface TraceResult {
  kind: "trace";
  title: string;
  lines: string[];
  line: number;
}

export interface ErrorResult {
  kind: "error";
  /** SyntaxError, NameError, TypeError, ExpectationFailed, StepLimit, VmError, ... */
  name: string;
  message: string;
  line: number;
  column: number;
  /** The source line the error points into, and a caret line under the offending text. */
  sourceLine: string;
  caret: string;
  hint?: string;
}

export type Result = TextResult | ValueResult | PrintResult | TableResult | ChartResult | TraceResult | ErrorResult;

export const VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json";

/** `line 3, column 7: message` + source line + caret + hint: the format the CLI prints to stderr. */
export function formatError(e: ErrorResult): string {
  const out = [`${e.name}: line ${e.line}, column ${e.column}: ${e.message}`];
  if (e.sourceLine !== "") out.push(`  ${e.sourceLine}`, `  ${e.caret}`);
  if (e.hint) out.push(`hint: ${e.hint}`);
  return out.join("\n");
}

export function hasErrors(results: readonly Result[]): boolean {
  return results.some((r) => r.kind === "error");
}
