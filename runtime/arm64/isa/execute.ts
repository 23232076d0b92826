// Run one decoded instruction's semantics against the machine (see env.ts for the contract).

import type { A64Env } from "../env.js";
import type { A64Insn } from "./types.js";

export function executeA64(env: A64Env, insn: A64Insn): void {
  insn.spec.run(env, insn.fields);
}
