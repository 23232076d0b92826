// Helpers shared by statement handlers: the current VM, the evaluation scope, numbers from
// expressions, text results.

import type { Expr, Pos } from "../../grammar/ast.js";
import type { Context, VmEntry } from "../session.js";
import { evaluate, type Scope } from "../expr.js";
import { LabError, typeError } from "../errors.js";
import type { TextResult } from "../results.js";

export function requireVm(ctx: Context, pos: Pos): VmEntry {
  const vm = ctx.session.current;
  if (!vm) throw new LabError("NoVm", "no VM is running", pos, "boot one first: `vm boot x86_64` or `vm boot arm64`");
  return vm;
}

export function scopeOf(ctx: Context): Scope {
  return { variables: ctx.session.variables, radixes: ctx.session.variableRadix, machine: ctx.session.current?.machine, reasons: ctx.session.reasonNames(), interrupted: ctx.options.interrupted };
}

/** A non-negative integer from an expression (counts, addresses, lengths). */
export function intArg(e: Expr, ctx: Context, what: string, max = Number.MAX_SAFE_INTEGER): number {
  const v = evaluate(e, scopeOf(ctx));
  if (typeof v !== "bigint") throw typeError(`${what} must be a number`, e.pos);
  if (v < 0n || v > BigInt(max)) throw new LabError("ValueError", `${what} must be between 0 and ${max}`, e.pos);
  return Number(v);
}

export function text(s: string, pos: Pos): TextResult {
  return { kind: "text", text: s, line: pos.line };
}
