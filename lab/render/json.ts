// Results as JSON (one array; deterministic key order as built).

import type { Result } from "../results.js";

export function renderJson(results: readonly Result[]): string {
  return JSON.stringify(results, (_k, v: unknown) => (typeof v === "bigint" ? "0x" + v.toString(16) : v), 2) + "\n";
}
