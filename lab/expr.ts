// Expression evaluation: numbers are 64-bit unsigned-wrapping bigints; names resolve to (in order)
// the exit being filtered in `count(exits where ...)`, variables, registers of the current VM, exit
// fields by shorthand (`esr.iss.srt`, `qual.cr`, `vmcs.FIELD`), then exit-reason names.

import type { Expr, Pos, Word } from "../grammar/ast.js";
import type { ExitList } from "../runtime/core/exits.js";
import type { Exit, Machine } from "../runtime/core/machine.js";
import { StoredExit } from "../runtime/core/exits.js";
import { suggestion } from "../grammar/words.js";
import { LabError, nameError, typeError } from "./errors.js";
import { fromField, radixOfField, truthy, type Radix, type Shown, type Value } from "./values.js";
import type { FieldValue } from "../runtime/core/trace.js";

import { MASK64 } from "../runtime/core/bits.js";

/** What names can see while evaluating. */
export interface Scope {
  variables: ReadonlyMap<string, Value>;
  /** The radix each variable's number is written in (absent: decimal). */
  radixes?: ReadonlyMap<string, Radix>;
  machine?: Machine;
  /** Exit-reason names of the current VM's architecture (upper case). */
  reasons: readonly string[];
  /** The exit under `count(exits where ...)`. */
  exit?: Exit;
  /** `until` conditions: `exit` means the exit that just happened (pending), never an older one. */
  pendingOnly?: boolean;
  /** The exits of a named VM or loaded trace (`count(NAME where ...)`); throws a NameError for an unknown name. */
  exitsOf?: (name: Word) => ExitList;
  /** Exit-reason names of every architecture: conditions over a named trace or VM see them all. */
  allReasons?: readonly string[];
  /** Evaluate as if no exit were pending (`until` conditions between exits). */
  noExit?: boolean;
  /** Polled in loops over exits: true stops the evaluation with an Interrupted error. */
  interrupted?: () => boolean;
  /**
   * Values of `count(…)`/`first(…)` nested in another one's condition, by node: they do not depend
   * on the outer exit (their `where` sees its own exit), so each is computed once per statement.
   */
  memo?: Map<Expr, Value>;
}

/** The exits `count(...)`/`first(...)` range over: NAME's, else the current VM's. */
function exitsFor(source: Word | null, scope: Scope, pos: Pos, what: string): ExitList {
  if (source) {
    if (!scope.exitsOf) throw nameError(`\`${source.text}\`: named exits are not available here`, source.pos);
    return scope.exitsOf(source);
  }
  const m = scope.machine;
  if (!m) throw nameError(`no VM is running: ${what} needs one`, pos, "boot one with `vm boot x86_64`, or name a loaded trace: `count(host where reason == HLT)`");
  return m.exits;
}

function exitOf(scope: Scope): Exit | undefined {
  const m = scope.machine;
  if (!m || scope.noExit) return undefined;
  return m.pendingExit ?? (scope.pendingOnly ? undefined : m.exits.at(-1));
}

/** Raised when an expression needs an exit and there is none yet (`step until` treats it as false). */
export class NoExitError extends LabError {
  constructor(pos?: Pos) {
    super("NoExit", "there is no exit yet: `exit.…` needs a pending or past exit", pos, "run `step until exit` first");
  }
}

/**
 * What `until` conditions throw for "no exit yet": one object made once, because the condition is
 * evaluated after every guest instruction and building an Error (its stack) per step cost 4× the
 * evaluation itself. Never shown: untilOf reads it as false.
 */
const NO_PENDING_EXIT = new NoExitError();

function noExit(scope: Scope, pos: Pos): NoExitError {
  return scope.pendingOnly ? NO_PENDING_EXIT : new NoExitError(pos);
}

/** Exits visited between two looks at the interrupt flag in count()/first(). */
const POLL_EVERY = 1024;

function checkInterrupt(scope: Scope, visited: number, pos: Pos): void {
  if ((visited & (POLL_EVERY - 1)) === 0 && scope.interrupted?.()) {
    throw new LabError("Interrupted", `interrupted after looking at ${visited} exits`, pos);
  }
}

/**
 * Whether the expression's value can change only at an exit: it reads exit fields, literals,
 * variables and exit-reason names, never registers or memory. Such an `until` condition is
 * constant between exits, so the run loop need not evaluate it after every instruction.
 */
export function dependsOnlyOnExit(e: Expr, scope: Scope): boolean {
  switch (e.type) {
    case "number": case "string": case "exitField": return true;
    case "name": {
      if (e.path.length !== 1) return false;
      const head = e.path[0]!;
      if (scope.variables.has(head)) return true;
      if (scope.machine?.registerNames().some((r) => r.toLowerCase() === head.toLowerCase())) return false;
      return scope.reasons.some((r) => r.toLowerCase() === head.toLowerCase());
    }
    case "unary": return dependsOnlyOnExit(e.operand, scope);
    case "binary": return dependsOnlyOnExit(e.left, scope) && dependsOnlyOnExit(e.right, scope);
    default: return false;
  }
}

const EXIT_BASICS = ["reason", "code", "pc", "index", "step", "cycles", "arch"];

/**
 * An exit's field by name as the machine gives it, or undefined: the basics, then the arch
 * schema's fields. Hex fields come as bigint, decimal ones as number (radixOfField): the pc and
 * the arm64 exception class in hex, x86 basic exit reasons (SDM Vol. 3 Appendix C numbers them
 * in decimal), indexes, steps and cycles in decimal.
 */
function rawExitField(exit: Exit, key: string): FieldValue | undefined {
  const k = key.toLowerCase();
  switch (k) {
    case "reason": return exit.reason;
    case "code": return exit.arch === "arm64" ? BigInt(exit.code) : exit.code;
    case "pc": case "rip": return exit.pc;
    case "index": return exit.index;
    case "step": return exit.step;
    case "cycles": return exit.cycles;
    case "arch": return exit.arch;
  }
  // A stored exit reads the one field from its columns; other exits (e.g. built by hand) their info.
  return exit instanceof StoredExit ? exit.field(k) : exit.info[Object.keys(exit.info).find((f) => f.toLowerCase() === k) ?? ""];
}

export function exitField(exit: Exit, path: string[], pos: Pos): Value {
  return fromField(exitFieldRaw(exit, path, pos));
}

function exitFieldRaw(exit: Exit, path: string[], pos: Pos): FieldValue {
  const key = path.join(".");
  const v = rawExitField(exit, key);
  if (v !== undefined) return v;
  throw nameError(`exit #${exit.index} (${exit.reason}) has no field \`${key}\``, pos, suggestion(key, [...EXIT_BASICS, ...Object.keys(exit.info)]) ?? `fields: ${[...EXIT_BASICS, ...Object.keys(exit.info)].join(", ")}`);
}

function currentExit(scope: Scope, pos: Pos): Exit {
  const m = scope.machine;
  if (!m) throw nameError("no VM is running: `exit` refers to the current VM's exit", pos, "boot one with `vm boot x86_64`");
  const e = exitOf(scope);
  if (!e) throw noExit(scope, pos);
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

const shownField = (v: FieldValue): Shown => ({ value: fromField(v), radix: radixOfField(v) });

function resolveName(path: string[], scope: Scope, pos: Pos): Value {
  return resolveNameShown(path, scope, pos).value;
}

/** A name's value and radix: registers and VMCS fields hex, exit fields as their schema says. */
function resolveNameShown(path: string[], scope: Scope, pos: Pos): Shown {
  const [head, ...rest] = path as [string, ...string[]];
  if (scope.exit) {
    // A field of the filtered exit, else the outer names.
    const v = rawExitField(scope.exit, path.join("."));
    if (v !== undefined) return shownField(v);
  }
  if (rest.length === 0) {
    if (scope.variables.has(head)) return { value: scope.variables.get(head)!, radix: scope.radixes?.get(head) ?? "dec" };
    const m = scope.machine;
    if (m && m.registerNames().some((r) => r.toLowerCase() === head.toLowerCase())) return { value: m.readRegister(head.toLowerCase()), radix: "hex" };
    const reason = scope.reasons.find((r) => r.toLowerCase() === head.toLowerCase());
    if (reason) return { value: reason, radix: "dec" };
  }
  const m = scope.machine;
  if (m && head.toLowerCase() === "vmcs" && rest.length === 1 && m.arch === "x86_64") return { value: vmcsField(m, rest[0]!, pos), radix: "hex" };
  if (m && rest.length > 0) {
    const e = exitOf(scope);
    if (e) {
      const key = path.join(".").toLowerCase();
      const v = rawExitField(e, key) ?? (key.startsWith("vmcs.") ? rawExitField(e, key.slice(5)) : undefined);
      if (v !== undefined) return shownField(v);
    } else if (["esr", "qual", "vmcs"].includes(head.toLowerCase())) throw noExit(scope, pos);
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
    case "exitAt": return fromField(exitAtRaw(e, scope));
    case "count": {
      const exits = exitsFor(e.source, scope, e.pos, "count(exits)");
      // Counts cover every exit; with a condition, the exits kept (`set exitcap`).
      if (!e.where) return BigInt(exits.total);
      const known = scope.exit ? scope.memo?.get(e) : undefined;
      if (known !== undefined) return known;
      const inner: Scope = { ...scope, ...(e.source && scope.allReasons ? { reasons: scope.allReasons } : {}), memo: scope.memo ?? new Map() };
      let n = 0n;
      let visited = 0;
      for (const exit of exits) {
        checkInterrupt(scope, ++visited, e.pos);
        inner.exit = exit;
        if (truthy(evaluate(e.where, inner))) n++;
      }
      if (scope.exit) inner.memo!.set(e, n);
      return n;
    }
    case "find": {
      if (e.fn.text.toLowerCase() !== "first") throw nameError(`unknown function \`${e.fn.text}\``, e.fn.pos, "functions over exits: count(exits where …), first(exits where …)");
      const exits = exitsFor(e.source, scope, e.pos, "first(exits …)");
      const known = scope.exit ? scope.memo?.get(e) : undefined;
      if (known !== undefined) return known;
      const inner: Scope = { ...scope, ...(e.source && scope.allReasons ? { reasons: scope.allReasons } : {}), memo: scope.memo ?? new Map() };
      let visited = 0;
      let hit: Exit | undefined;
      for (const exit of exits) {
        checkInterrupt(scope, ++visited, e.pos);
        inner.exit = exit;
        if (truthy(evaluate(e.where, inner))) {
          hit = exit;
          break;
        }
      }
      if (!hit) throw new LabError("NotFound", "no exit matches", e.pos);
      if (scope.exit) inner.memo!.set(e, BigInt(hit.index));
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

/** `exits[i].FIELD` as the machine gives it. */
function exitAtRaw(e: Extract<Expr, { type: "exitAt" }>, scope: Scope): FieldValue {
  const m = scope.machine;
  if (!m) throw nameError("no VM is running", e.pos);
  const i = asNumber(evaluate(e.index, scope), e.index.pos, "an index");
  const all = m.exits.total;
  const exit = i >= 0n && i < BigInt(all) ? m.exits.byIndex(Number(i)) : undefined;
  if (!exit && i >= 0n && i < BigInt(m.exits.dropped)) {
    throw new LabError("IndexError", `exits[${i}] was dropped: this VM keeps its last ${m.exits.cap} exits (${m.exits.dropped} dropped)`, e.index.pos, "raise the limit with `set exitcap N`");
  }
  if (!exit) throw new LabError("IndexError", `exits[${i}] does not exist: this VM has ${all} exit${all === 1 ? "" : "s"}`, e.index.pos);
  return exitFieldRaw(exit, e.path, e.pos);
}

/**
 * The radix an expression's number is written in, from where it comes: literals as written
 * (`0x…`/`0b…` hex), registers, VMCS fields and hex exit fields hex, variables as assigned,
 * count()/first() and decimal fields decimal; `~` gives hex, and an operator on a hex operand is
 * hex (`exit.pc + 4`, `esr & 0x3f`) while counts stay decimal (`n * 2`). Call after evaluate()
 * succeeded: it reads the same names again.
 */
export function radixOf(e: Expr, scope: Scope): Radix {
  switch (e.type) {
    case "number": return /^0[xXbB]/.test(e.text) ? "hex" : "dec";
    case "string": case "count": case "find": return "dec";
    case "name": return resolveNameShown(e.path, scope, e.pos).radix;
    case "exitField": return radixOfField(exitFieldRaw(scope.exit ?? currentExit(scope, e.pos), e.path, e.pos));
    case "exitAt": return radixOfField(exitAtRaw(e, scope));
    case "unary": return e.op === "~" ? "hex" : e.op === "!" ? "dec" : radixOf(e.operand, scope);
    case "binary":
      if (["||", "&&", "==", "!=", "<", "<=", ">", ">="].includes(e.op)) return "dec";
      return radixOf(e.left, scope) === "hex" || radixOf(e.right, scope) === "hex" ? "hex" : "dec";
  }
}

/** A value with its radix, for showing it (`let`, a bare expression, `print`, `expect`). */
export function evaluateShown(e: Expr, scope: Scope): Shown {
  const value = evaluate(e, scope);
  return { value, radix: typeof value === "bigint" ? radixOf(e, scope) : "dec" };
}
