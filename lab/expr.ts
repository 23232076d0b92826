// Expression evaluation: numbers are 64-bit unsigned-wrapping bigints; names resolve to (in order)
// the exit being filtered in `count(exits where ...)`, variables, registers of the current VM, exit
// fields by shorthand (`esr.iss.srt`, `qual.cr`, `vmcs.FIELD`), then exit-reason names.

import type { Expr, Pos } from "../grammar/ast.js";
import type { Exit, Machine } from "../runtime/core/machine.js";
import { StoredExit } from "../runtime/core/exits.js";
import { suggestion } from "../grammar/words.js";
import { LabError, nameError, typeError } from "./errors.js";
import { fromField, truthy, type Value } from "./values.js";

const MASK64 = (1n << 64n) - 1n;

/** What names can see while evaluating. */
export interface Scope {
  variables: ReadonlyMap<string, Value>;
  machine?: Machine;
  /** Exit-reason names of the current VM's architecture (upper case). */
  reasons: readonly string[];
  /** The exit under `count(exits where ...)`. */
  exit?: Exit;
  /** `until` conditions: `exit` means the exit that just happened (pending), never an older one. */
  pendingOnly?: boolean;
}

function exitOf(scope: Scope): Exit | undefined {
  const m = scope.machine;
  if (!m) return undefined;
  return m.pendingExit ?? (scope.pendingOnly ? undefined : m.exits.at(-1));
}

/** Raised when an expression needs an exit and there is none yet (`step until` treats it as false). */
export class NoExitError extends LabError {
  constructor(pos?: Pos) {
    super("NoExit", "there is no exit yet: `exit.…` needs a pending or past exit", pos, "run `step until exit` first");
  }
}

const EXIT_BASICS = ["reason", "code", "pc", "index", "step", "cycles", "arch"];

/** An exit's field by name, or undefined: the basics, then the arch schema's fields. */
function tryExitField(exit: Exit, key: string): Value | undefined {
  const k = key.toLowerCase();
  switch (k) {
    case "reason": return exit.reason;
    case "code": return BigInt(exit.code);
    case "pc": case "rip": return exit.pc;
    case "index": return BigInt(exit.index);
    case "step": return BigInt(exit.step);
    case "cycles": return BigInt(exit.cycles);
    case "arch": return exit.arch;
  }
  // A stored exit reads the one field from its columns; other exits (e.g. built by hand) their info.
  const v = exit instanceof StoredExit ? exit.field(k) : exit.info[Object.keys(exit.info).find((f) => f.toLowerCase() === k) ?? ""];
  return v === undefined ? undefined : fromField(v);
}

export function exitField(exit: Exit, path: string[], pos: Pos): Value {
  const key = path.join(".");
  const v = tryExitField(exit, key);
  if (v !== undefined) return v;
  throw nameError(`exit #${exit.index} (${exit.reason}) has no field \`${key}\``, pos, suggestion(key, [...EXIT_BASICS, ...Object.keys(exit.info)]) ?? `fields: ${[...EXIT_BASICS, ...Object.keys(exit.info)].join(", ")}`);
}

function currentExit(scope: Scope, pos: Pos): Exit {
  const m = scope.machine;
  if (!m) throw nameError("no VM is running: `exit` refers to the current VM's exit", pos, "boot one with `vm boot x86_64`");
  const e = exitOf(scope);
  if (!e) throw new NoExitError(pos);
  return e;
}

function vmcsField(m: Machine, field: string, pos: Pos): Value {
  const v = m.readVmcs?.(field);
  if (v !== undefined) return v;
  // Only to suggest a name: the field names as `show vmcs` lists them.
  const view = m.view("vmcs");
  const col = view.columns.indexOf("field");
  throw nameError(`no VMCS field \`${field}\``, pos, suggestion(field, view.rows.map((r) => String(r[col]))));
}

function resolveName(path: string[], scope: Scope, pos: Pos): Value {
  const [head, ...rest] = path as [string, ...string[]];
  if (scope.exit) {
    // A field of the filtered exit, else the outer names.
    const v = tryExitField(scope.exit, path.join("."));
    if (v !== undefined) return v;
  }
  if (rest.length === 0) {
    if (scope.variables.has(head)) return scope.variables.get(head)!;
    const m = scope.machine;
    if (m && m.registerNames().some((r) => r.toLowerCase() === head.toLowerCase())) return m.readRegister(head.toLowerCase());
    const reason = scope.reasons.find((r) => r.toLowerCase() === head.toLowerCase());
    if (reason) return reason;
  }
  const m = scope.machine;
  if (m && head.toLowerCase() === "vmcs" && rest.length === 1 && m.arch === "x86_64") return vmcsField(m, rest[0]!, pos);
  if (m && rest.length > 0) {
    const e = exitOf(scope);
    if (e) {
      const key = path.join(".").toLowerCase();
      const v = tryExitField(e, key) ?? (key.startsWith("vmcs.") ? tryExitField(e, key.slice(5)) : undefined);
      if (v !== undefined) return v;
    } else if (["esr", "qual", "vmcs"].includes(head.toLowerCase())) throw new NoExitError(pos);
  }
  const name = path.join(".");
  const pool = [...scope.variables.keys(), ...(m?.registerNames() ?? []), ...scope.reasons];
  throw nameError(`unknown name \`${name}\``, pos, suggestion(name, pool) ?? (m ? "names are variables (`let`), registers, exit reasons and exit fields" : "no VM is running: boot one with `vm boot x86_64` to use registers"));
}

function asNumber(v: Value, pos: Pos, what: string): bigint {
  if (typeof v === "bigint") return v;
  if (typeof v === "boolean") return v ? 1n : 0n;
  throw typeError(`${what} needs a number, got the string ${JSON.stringify(v)}`, pos);
}

function compare(op: string, a: Value, b: Value, pos: Pos): boolean {
  if (typeof a === "string" || typeof b === "string") {
    if (typeof a !== typeof b) throw typeError(`cannot compare ${typeof a === "string" ? "a string" : "a number"} with ${typeof b === "string" ? "a string" : "a number"}`, pos);
    const x = (a as string).toLowerCase();
    const y = (b as string).toLowerCase();
    if (op === "==") return x === y;
    if (op === "!=") return x !== y;
    throw typeError(`strings can only be compared with == and !=`, pos);
  }
  const x = asNumber(a, pos, op);
  const y = asNumber(b, pos, op);
  switch (op) {
    case "==": return x === y;
    case "!=": return x !== y;
    case "<": return x < y;
    case "<=": return x <= y;
    case ">": return x > y;
    default: return x >= y;
  }
}

export function evaluate(e: Expr, scope: Scope): Value {
  switch (e.type) {
    case "number": return e.value;
    case "string": return e.value;
    case "name": return resolveName(e.path, scope, e.pos);
    case "exitField": return exitField(scope.exit ?? currentExit(scope, e.pos), e.path, e.pos);
    case "exitAt": {
      const m = scope.machine;
      if (!m) throw nameError("no VM is running", e.pos);
      const i = asNumber(evaluate(e.index, scope), e.index.pos, "an index");
      const all = m.exits.total;
      const exit = i >= 0n && i < BigInt(all) ? m.exits.byIndex(Number(i)) : undefined;
      if (!exit && i >= 0n && i < BigInt(m.exits.dropped)) {
        throw new LabError("IndexError", `exits[${i}] was dropped: this VM keeps its last ${m.exits.cap} exits (${m.exits.dropped} dropped)`, e.index.pos, "raise the limit with `set exitcap N`");
      }
      if (!exit) throw new LabError("IndexError", `exits[${i}] does not exist: this VM has ${all} exit${all === 1 ? "" : "s"}`, e.index.pos);
      return exitField(exit, e.path, e.pos);
    }
    case "count": {
      const m = scope.machine;
      if (!m) throw nameError("no VM is running: count(exits) needs one", e.pos);
      // Counts cover every exit; with a condition, the exits kept (`set exitcap`).
      if (!e.where) return BigInt(m.exits.total);
      let n = 0n;
      for (const exit of m.exits) if (truthy(evaluate(e.where, { ...scope, exit }))) n++;
      return n;
    }
    case "find": {
      if (e.fn.text.toLowerCase() !== "first") throw nameError(`unknown function \`${e.fn.text}\``, e.fn.pos, "functions over exits: count(exits where …), first(exits where …)");
      const m = scope.machine;
      if (!m) throw nameError("no VM is running: first(exits …) needs one", e.pos);
      const hit = m.exits.find((exit) => truthy(evaluate(e.where, { ...scope, exit })));
      if (!hit) throw new LabError("NotFound", "no exit matches", e.pos);
      return BigInt(hit.index);
    }
    case "unary": {
      const v = evaluate(e.operand, scope);
      if (e.op === "!") return !truthy(v);
      const x = asNumber(v, e.pos, e.op);
      return e.op === "-" ? (-x) & MASK64 : ~x & MASK64;
    }
    case "binary": {
      if (e.op === "&&") return truthy(evaluate(e.left, scope)) && truthy(evaluate(e.right, scope));
      if (e.op === "||") return truthy(evaluate(e.left, scope)) || truthy(evaluate(e.right, scope));
      const a = evaluate(e.left, scope);
      const b = evaluate(e.right, scope);
      if (["==", "!=", "<", "<=", ">", ">="].includes(e.op)) return compare(e.op, a, b, e.pos);
      if (e.op === "+" && typeof a === "string" && typeof b === "string") return a + b;
      const x = asNumber(a, e.left.pos, e.op);
      const y = asNumber(b, e.right.pos, e.op);
      switch (e.op) {
        case "+": return (x + y) & MASK64;
        case "-": return (x - y) & MASK64;
        case "*": return (x * y) & MASK64;
        case "/": case "%":
          if (y === 0n) throw new LabError("ZeroDivisionError", `division by zero`, e.right.pos);
          return e.op === "/" ? x / y : x % y;
        case "&": return x & y;
        case "|": return x | y;
        case "^": return x ^ y;
        case "<<": return y >= 64n ? 0n : (x << y) & MASK64;
        default: return y >= 64n ? 0n : x >> y;
      }
    }
  }
}
