// Statements that look at state and traces: show, table, chart, compare, let, expect, help.
// (load/save trace, stat and sql: lab/statements/traces.ts.)

import type { Expr, Pos, Statement, Word } from "../../grammar/ast.js";
import type { MachineView } from "../../runtime/core/machine.js";
import { Arm64Machine } from "../../runtime/arm64/machine.js";
import { switchCompareView } from "../../runtime/arm64/hyp/views.js";
import type { ExitList } from "../../runtime/core/exits.js";
import { SHOW_TARGETS, STATEMENT_KEYWORDS, suggestion } from "../../grammar/words.js";
import { LabError, nameError, valueError } from "../errors.js";
import { evaluate, evaluateShown } from "../expr.js";
import type { Cell, Column, Result, TableResult } from "../results.js";
import type { Context, HandlerTable, VmEntry } from "../session.js";
import { formatValue, hex, printValue, toCell, truthy, type Shown } from "../values.js";
import { intArg, requireVm, scopeOf, text } from "./common.js";
import { exitRowsBy, exitTotal } from "./tables.js";
import { costTitle, traceSource } from "./traces.js";
import { chartStatement, type ChartSource } from "./charts.js";
import { helpText } from "../help.js";

type S<T extends Statement["type"]> = Extract<Statement, { type: T }>;

export function viewTable(v: MachineView, line: number): TableResult {
  const columns: Column[] = v.columns.map((name) => ({ name, type: "string" }));
  const rows: Cell[][] = v.rows.map((r) =>
    r.map((c, i) => {
      const { cell, type } = toCell(c);
      const col = columns[i];
      if (col) col.type = col.type === "string" && v.rows.every((rr) => toCell(rr[i]!).type === type) ? type : col.type;
      return cell;
    }),
  );
  return { kind: "table", title: v.title, columns, rows, line };
}

function hexdump(bytes: Uint8Array, base: number): string {
  const lines: string[] = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const chunk = [...bytes.subarray(i, i + 16)];
    const hx = chunk.map((b) => b.toString(16).padStart(2, "0")).join(" ");
    const asc = chunk.map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${(base + i).toString(16).padStart(8, "0")}  ${hx.padEnd(47)}  ${asc}`);
  }
  return lines.join("\n");
}

function argCount(s: S<"show">, min: number, max: number, usage: string): void {
  if (s.args.length < min || s.args.length > max) throw new LabError("UsageError", `usage: ${usage}`, s.args[max]?.pos ?? s.pos);
}

/** How the cap thinned a VM's exits, for titles: "" when nothing was dropped. */
function droppedNote(exits: ExitList): string {
  return exits.dropped ? ` (the last ${exits.length} of ${exits.total}: ${exits.dropped} older exits dropped, \`set exitcap N\` keeps more)` : "";
}

function exitsTable(vm: VmEntry, line: number): TableResult {
  return {
    kind: "table",
    title: `exits of ${vm.name}${droppedNote(vm.machine.exits)}`,
    columns: [{ name: "#", type: "number" }, { name: "step", type: "number" }, { name: "reason", type: "string" }, { name: "pc", type: "hex" }, { name: "cycles", type: "number" }],
    rows: vm.machine.exits.map((e) => [e.index, e.step, e.reason, hex(e.pc), e.cycles]),
    line,
  };
}

function show(s: S<"show">, ctx: Context): Result[] {
  const what = s.what.text.toLowerCase();
  const vm = requireVm(ctx, s.pos);
  const m = vm.machine;
  const info = ctx.session.info(vm.arch);
  const line = s.pos.line;
  switch (what) {
    case "mem": {
      argCount(s, 2, 2, "show mem ADDRESS LENGTH");
      const addr = intArg(s.args[0]!, ctx, "the address", 2 ** 52);
      const len = intArg(s.args[1]!, ctx, "the length", 1 << 16);
      return [text(hexdump(m.readPhysical(addr, len), addr), s.pos)];
    }
    case "disasm": {
      argCount(s, 0, 2, "show disasm [ADDRESS] [COUNT]");
      const addr = s.args[0] ? BigInt(intArg(s.args[0], ctx, "the address", 2 ** 53)) : m.pc;
      const n = s.args[1] ? intArg(s.args[1], ctx, "the count", 1000) : 8;
      const lines = m.disassemble(addr, n).map((d) => `${hex(d.address).padStart(10)}:  ${[...d.bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ").padEnd(24)} ${d.text}`);
      return [text(lines.join("\n"), s.pos)];
    }
    case "trace": {
      argCount(s, 0, 1, "show trace [last N]");
      const all = m.trace.lines(m.settings.era);
      const n = s.args[0] ? intArg(s.args[0], ctx, "the count") : all.length;
      const dropped = m.trace.dropped ? `; ${m.trace.dropped} older events dropped` : "";
      return [{ kind: "trace", title: `trace of ${vm.name} (${all.length} events${dropped}, KVM ${m.settings.era})`, lines: all.slice(Math.max(0, all.length - n)), line }];
    }
    case "console":
      argCount(s, 0, 0, "show console");
      return [text(m.console === "" ? "(the guest has written nothing)" : m.console.replace(/\n$/, ""), s.pos)];
    case "exits":
      argCount(s, 0, 0, "show exits");
      return [exitsTable(vm, line)];
  }
  const views = info?.viewNames ?? [];
  if (!views.includes(what)) {
    const pool = [...new Set([...SHOW_TARGETS, ...views])];
    throw nameError(`\`show ${s.what.text}\`: ${(SHOW_TARGETS as readonly string[]).includes(what) ? `${vm.arch} VMs have no \`${what}\` view` : "unknown view"}`, s.what.pos, suggestion(what, pool) ?? `views: ${pool.join(", ")}`);
  }
  argCount(s, 0, 1, `show ${what} [WHICH]`);
  let arg: string | undefined;
  const a = s.args[0];
  if (a) arg = a.type === "name" ? a.path.join(".") : String(evaluate(a, scopeOf(ctx)));
  return [viewTable(m.view(what, arg), line)];
}

/** Exits of the named VM (or the current one) — or a loaded trace's kvm_exit events. */
function sourceExits(source: Word | null, ctx: Context, pos: Pos): ChartSource & { costTitle: string } {
  const src = traceSource(ctx, source, pos);
  const costAxis = src.unit === "us" ? "host time (µs, kvm_exit to kvm_entry)" : undefined;
  return { name: src.name, exits: src.exits, arch: src.arch, fields: true, costTitle: costTitle(src.unit), costAxis };
}

/** Costs as tables show them: cycles are whole, times (µs) to 2 decimals. */
const roundCost = (x: number): number => (Number.isInteger(x) ? x : Math.round(x * 100) / 100);

function groupField(by: Word | null): "reason" {
  if (by && by.text.toLowerCase() !== "reason") throw valueError(`exits can be grouped by \`reason\``, by.pos, suggestion(by.text, ["reason"]));
  return "reason";
}

function table(s: S<"table">, ctx: Context): Result[] {
  const src = sourceExits(s.source, ctx, s.pos);
  if (!s.by) {
    const vm = s.source ? ctx.session.vms.get(s.source.text) : ctx.session.current;
    if (vm) return [exitsTable(vm, s.pos.line)];
  }
  groupField(s.by);
  const rows = exitRowsBy(src.exits);
  return [{
    kind: "table",
    title: `exits of ${src.name} by reason`,
    columns: [{ name: "reason", type: "string" }, { name: "exits", type: "number" }, { name: src.costTitle, type: "number" }],
    rows: [...rows.map((r) => [r.reason, r.count, roundCost(r.cycles)] as Cell[]), ["total", exitTotal(src.exits), roundCost(rows.reduce((a, r) => a + r.cycles, 0))]],
    line: s.pos.line,
  }];
}

function chart(s: S<"chart">, ctx: Context): Result[] {
  return chartStatement(s, ctx, (w) => sourceExits(w, ctx, s.pos), groupField);
}

function compare(s: S<"compare">, ctx: Context): Result[] {
  const a = sourceExits(s.left, ctx, s.pos);
  const b = sourceExits(s.right, ctx, s.pos);
  const ra = new Map(exitRowsBy(a.exits).map((r) => [r.reason, r]));
  const rb = new Map(exitRowsBy(b.exits).map((r) => [r.reason, r]));
  const reasons = [...new Set([...ra.keys(), ...rb.keys()])];
  const rows: Cell[][] = reasons.map((r) => [r, ra.get(r)?.count ?? 0, roundCost(ra.get(r)?.cycles ?? 0), rb.get(r)?.count ?? 0, roundCost(rb.get(r)?.cycles ?? 0)]);
  const sum = (m: Map<string, { cycles: number }>) => roundCost([...m.values()].reduce((x, r) => x + r.cycles, 0));
  rows.push(["total", exitTotal(a.exits), sum(ra), exitTotal(b.exits), sum(rb)]);
  const out: Result[] = [{
    kind: "table",
    title: `${a.name} vs ${b.name}: exits by reason`,
    columns: [{ name: "reason", type: "string" }, { name: `${a.name} exits`, type: "number" }, { name: `${a.name} ${a.costTitle}`, type: "number" }, { name: `${b.name} exits`, type: "number" }, { name: `${b.name} ${b.costTitle}`, type: "number" }],
    rows,
    line: s.pos.line,
  }];
  // Two arm64 VMs that switch differently (model nvhe/vhe, era, gic): the switch per exit side by side.
  const ma = ctx.session.vms.get(s.left.text)?.machine, mb = ctx.session.vms.get(s.right.text)?.machine;
  if (ma instanceof Arm64Machine && mb instanceof Arm64Machine) {
    const v = switchCompareView({ name: a.name, m: ma }, { name: b.name, m: mb });
    if (v) out.push(viewTable(v, s.pos.line));
  }
  return out;
}

function let_(s: S<"let">, ctx: Context): Result[] {
  const { value, radix } = evaluateShown(s.value, scopeOf(ctx));
  ctx.session.variables.set(s.name.text, value);
  ctx.session.variableRadix.set(s.name.text, radix);
  return [text(`${s.name.text} = ${formatValue(value, radix)}`, s.pos)];
}

/** A bare expression: its value as the field reads it. */
function value(s: S<"value">, ctx: Context): Result[] {
  const { value: v, radix } = shownOrStatement(s.expr, ctx);
  const type = typeof v === "bigint" ? (radix === "hex" ? "hex" : "number") : typeof v === "string" ? "string" : "bool";
  return [{ kind: "value", text: formatValue(v, radix), type, line: s.pos.line }];
}

/** A bare expression's value; a lone unknown word close to a statement keyword (`stpe`) says so. */
function shownOrStatement(e: Expr, ctx: Context): Shown {
  try {
    return evaluateShown(e, scopeOf(ctx));
  } catch (err) {
    const word = e.type === "name" && e.path.length === 1 ? e.path[0]! : undefined;
    const unknown = word !== undefined && err instanceof LabError && err.name === "NameError";
    if (unknown && word.toLowerCase() === "quit") throw new LabError("NameError", "unknown name `quit`", e.pos, "`quit` (or `exit`) on its own leaves the REPL; a program ends at its last statement");
    const hint = unknown ? suggestion(word, STATEMENT_KEYWORDS) : undefined;
    if (hint) throw new LabError("NameError", `unknown name \`${word}\`: not a statement either`, e.pos, hint);
    throw err;
  }
}

/** `print a, b, ...`: the values separated by spaces (strings as they are), then a newline. */
function print(s: S<"print">, ctx: Context): Result[] {
  const scope = scopeOf(ctx);
  const parts = s.items.map((e) => {
    const { value: v, radix } = evaluateShown(e, scope);
    return printValue(v, radix);
  });
  return [{ kind: "print", text: parts.join(" "), line: s.pos.line }];
}

function sourceOf(e: { pos: Pos }, ctx: Context): string {
  return ctx.source.slice(e.pos.offset, e.pos.end);
}

function expect(s: S<"expect">, ctx: Context): Result[] {
  const scope = scopeOf(ctx);
  const cond: Expr = s.cond;
  const ok = truthy(evaluate(cond, scope));
  const src = sourceOf(cond, ctx);
  if (ok) return [text(`ok: ${src}`, s.pos)];
  let detail = `\`${src}\` is false`;
  if (cond.type === "binary" && ["==", "!=", "<", "<=", ">", ">="].includes(cond.op)) {
    const side = (e: Expr) => {
      const { value: v, radix } = evaluateShown(e, scope);
      return formatValue(v, radix);
    };
    detail = `\`${src}\`: left side ${side(cond.left)}, right side ${side(cond.right)}`;
  }
  throw new LabError("ExpectationFailed", s.message ? `${s.message}: ${detail}` : detail, cond.pos);
}

function help(s: S<"help">, ctx: Context): Result[] {
  return [text(helpText(s.topic?.text, ctx.session, s.topic?.pos), s.pos)];
}

export const DATA_STATEMENTS: HandlerTable = { show, table, chart, compare, let: let_, value, print, expect, help };
