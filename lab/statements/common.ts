// Helpers shared by statement handlers: the current VM, the evaluation scope, numbers from
// expressions, text results.

import type { Expr, Pos, Word } from "../../grammar/ast.js";
import type { ExitList } from "../../runtime/core/exits.js";
import { suggestion } from "../../grammar/words.js";
import { ARM_EXIT_TYPES, UNRESOLVED } from "../../runtime/traces/events.js";
import type { Context, VmEntry } from "../session.js";
import { evaluate, type Scope } from "../expr.js";
import { LabError, nameError, typeError } from "../errors.js";
import type { TextResult } from "../results.js";

export function requireVm(ctx: Context, pos: Pos): VmEntry {
  const vm = ctx.session.current;
  if (!vm) throw new LabError("NoVm", "no VM is running", pos, "boot one first: `vm boot x86_64` or `vm boot arm64`");
  return vm;
}

export function scopeOf(ctx: Context): Scope {
  const s = ctx.session;
  return {
    variables: s.variables,
    radixes: s.variableRadix,
    machine: s.current?.machine,
    reasons: s.reasonNames(),
    allReasons: [...Object.values(s.factory.archInfo).flatMap((i) => i?.exitReasons.map((r) => r.name) ?? []), ...ARM_EXIT_TYPES, UNRESOLVED],
    exitsOf: (w: Word) => namedExits(ctx, w),
    interrupted: ctx.options.interrupted,
  };
}

/** The exits of a VM or loaded trace by name (`count(host where ...)`). */
export function namedExits(ctx: Context, w: Word): ExitList {
  const vm = ctx.session.vms.get(w.text);
  if (vm) return vm.machine.exits;
  const t = ctx.session.traces.get(w.text);
  if (t) return t.exits;
  const pool = [...ctx.session.vms.keys(), ...ctx.session.traces.keys()];
  throw nameError(`no VM or loaded trace named \`${w.text}\``, w.pos, suggestion(w.text, pool) ?? (pool.length ? `known: exits, ${pool.join(", ")}` : "`count(exits ...)` counts the current VM's exits"));
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
