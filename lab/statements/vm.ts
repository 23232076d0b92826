// Statements that create, select, configure and drive VMs: vm boot, use, trap/untrap, step,
// handle, run, set.

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Expr, Pos, Statement } from "../../grammar/ast.js";
import { ARCHES, GUEST_MODES, type Arch, type ArchInfo, type GuestMode, type Exit, type Machine, type MachineOptions, type RunResult, type TrapRequest } from "../../runtime/core/machine.js";
import { ARCH_NAMES, SETTINGS, SETTING_ALIASES, suggestion } from "../../grammar/words.js";
import { checkSetting, ON_OFF, settingDef } from "../../runtime/core/settings.js";
import { resolveTrap, trapWords, TRAPS } from "../vocabulary.js";
import { LabError, nameError, valueError } from "../errors.js";
import { evaluate, NoExitError } from "../expr.js";
import type { Result } from "../results.js";
import type { Context, HandlerTable, LabSettings } from "../session.js";
import { hex, truthy } from "../values.js";
import { intArg, requireVm, scopeOf, text } from "./common.js";

type S<T extends Statement["type"]> = Extract<Statement, { type: T }>;

function archOf(word: { text: string; pos: Pos }, ctx: Context): Arch {
  const a = word.text.toLowerCase() === "x86" || word.text.toLowerCase() === "x86-64" ? "x86_64" : word.text.toLowerCase();
  if (!(ARCH_NAMES as readonly string[]).includes(a)) throw nameError(`unknown architecture \`${word.text}\``, word.pos, suggestion(word.text, ARCH_NAMES) ?? "architectures: arm64, x86_64");
  if (!ctx.session.factory.archInfo[a as Arch]) throw new LabError("NotAvailable", `the ${a} machine is not available in this build`, word.pos);
  return a as Arch;
}

/** A machine-construction error inside an asm block, moved to the block's place in the program. */
function asmErrorPos(e: unknown, body: { pos: Pos }, source: string): Pos | undefined {
  const line = (e as { line?: unknown }).line;
  const column = (e as { column?: unknown }).column;
  if (typeof line !== "number" || typeof column !== "number") return undefined;
  // The body starts one character after `{`.
  const braceAt = source.indexOf("{", body.pos.offset);
  const bodyLines = source.slice(0, braceAt + 1).split("\n");
  const absLine = bodyLines.length + line - 1;
  const col = line === 1 ? bodyLines[bodyLines.length - 1]!.length + column : column;
  const lineStart = source.split("\n").slice(0, absLine - 1).join("\n").length + (absLine > 1 ? 1 : 0);
  return { line: absLine, col, offset: lineStart + col - 1, end: lineStart + col };
}

/**
 * The mode an asm block starts in: x86 blocks in 64-bit long mode unless `mode 16|32` says
 * otherwise (runtime/x86/entry.ts); arm64 blocks take no mode.
 */
function asmMode(mode: Expr | null, arch: Arch): { mode?: GuestMode } {
  if (arch !== "x86_64") {
    if (mode) throw valueError(`\`mode\` is for x86_64 asm blocks: arm64 blocks start at EL1 with the MMU off`, mode.pos);
    return {};
  }
  if (!mode) return { mode: 64 };
  const n = mode.type === "number" ? Number(mode.value) : NaN;
  if (!(GUEST_MODES as readonly number[]).includes(n)) {
    throw valueError(`unknown mode ${mode.type === "number" ? mode.text : "?"}: an x86_64 asm block starts in mode 16 (real), 32 (protected) or 64 (long)`, mode.pos, "e.g. `vm boot x86_64 asm mode 32 { ... }`");
  }
  return { mode: n as GuestMode };
}

function applyArchSettings(m: Machine, settings: LabSettings): void {
  if (settings.jit !== undefined) m.set("jit", settings.jit);
  if (m.arch !== "arm64") return;
  if (settings.granule !== undefined) m.set("granule", settings.granule);
  if (settings.pair_mmio !== undefined) m.set("pair_mmio", settings.pair_mmio);
}

function vmBoot(s: S<"vmBoot">, ctx: Context): Result[] {
  const session = ctx.session;
  const arch = archOf(s.arch, ctx);
  const info = session.info(arch)!;
  let guest: MachineOptions["guest"] = { builtin: "boot" };
  let guestName = "boot";
  if (s.guest?.type === "builtin") {
    const g = s.guest.name.text;
    const known = info.builtinGuests.map((b) => b.name);
    if (!known.includes(g)) throw nameError(`no built-in ${arch} guest named \`${g}\``, s.guest.name.pos, suggestion(g, known) ?? `built-in guests: ${known.join(", ")}`);
    guest = { builtin: g };
    guestName = g;
  } else if (s.guest?.type === "file") {
    const path = resolve(ctx.options.baseDir ?? process.cwd(), s.guest.path);
    let src: string;
    try {
      src = readFileSync(path, "utf8");
    } catch (e) {
      throw new LabError("FileError", `cannot read ${s.guest.path}: ${(e as Error).message}`, s.guest.pos);
    }
    guest = { source: src, fileName: s.guest.path };
    guestName = s.guest.path;
  } else if (s.guest?.type === "asm") {
    if (s.guest.arch) {
      const a = archOf(s.guest.arch, ctx);
      if (a !== arch) throw valueError(`this asm block is ${a} code but the VM is ${arch}`, s.guest.arch.pos);
    }
    guest = { source: s.guest.body, fileName: "asm block", ...asmMode(s.guest.mode, arch) };
    guestName = "asm block";
  }
  const name = s.name?.text ?? arch;
  let machine: Machine;
  try {
    machine = session.factory.createMachine(arch, {
      guest,
      settings: { era: session.settings.era, stepLimit: session.settings.steplimit },
      exitCap: session.settings.exitcap,
      traceCapEvents: session.settings.tracecap,
    });
    applyArchSettings(machine, session.settings);
  } catch (e) {
    const pos = s.guest?.type === "asm" ? asmErrorPos(e, s.guest, ctx.source) : undefined;
    const err = e as Error & { hint?: string };
    throw new LabError(err.name === "Error" ? "BootError" : err.name, err.message, pos ?? s.pos, err.hint);
  }
  const replaced = session.vms.has(name);
  session.vms.set(name, { name, arch, machine, guest: guestName });
  session.currentName = name;
  return [text(`${replaced ? "rebooted" : "booted"} ${arch} VM \`${name}\` (guest ${guestName}), pc ${hex(machine.pc)}`, s.pos)];
}

function use(s: S<"use">, ctx: Context): Result[] {
  const vm = ctx.session.vms.get(s.name.text);
  if (!vm) throw nameError(`no VM named \`${s.name.text}\``, s.name.pos, suggestion(s.name.text, ctx.session.vms.keys()) ?? (ctx.session.vms.size ? `VMs: ${[...ctx.session.vms.keys()].join(", ")}` : "no VM has been booted"));
  ctx.session.currentName = vm.name;
  return [text(`using ${vm.arch} VM \`${vm.name}\``, s.pos)];
}

function trapRequest(s: S<"trap">, ctx: Context, arch: Arch): TrapRequest {
  const info = ctx.session.info(arch);
  const found = resolveTrap(info, s.kind.text);
  if (!found) {
    const k = s.kind.text.toLowerCase();
    const words = [...trapWords(info), ...(info?.traps ?? []).map((t) => t.name)];
    const otherArch = ARCHES.find((a) => a !== arch);
    const other = otherArch ? resolveTrap({ traps: TRAPS[otherArch] } as ArchInfo, k) : undefined;
    const hint = other ? `\`${k}\` is a trap of the other architecture` : suggestion(k, words) ?? `${arch} traps: ${[...new Set(trapWords(info))].join(", ")}`;
    throw nameError(`unknown ${arch} trap \`${s.kind.text}\``, s.kind.pos, hint);
  }
  const k = found.kind.name;
  if (found.arg !== undefined) {
    if (s.arg) throw valueError(`\`${s.kind.text}\` takes no argument (it is \`${k}\` with its argument)`, (s.arg as { pos: Pos }).pos);
    return { kind: k, arg: found.arg };
  }
  if (!s.arg) return { kind: k };
  if ("type" in s.arg) {
    const v = evaluate(s.arg as Expr, scopeOf(ctx));
    return { kind: k, arg: typeof v === "bigint" ? Number(v) : String(v) };
  }
  return { kind: k, arg: s.arg.text };
}

function trap(s: S<"trap">, ctx: Context): Result[] {
  const vm = requireVm(ctx, s.pos);
  const info = ctx.session.info(vm.arch);
  const req = trapRequest(s, ctx, vm.arch);
  if (req.kind === "sysreg" && typeof req.arg === "string" && info?.vocabulary.sysreg) {
    const names = info.vocabulary.sysreg.map((r) => r.name);
    if (!names.some((n) => n.toLowerCase() === String(req.arg).toLowerCase())) throw nameError(`unknown system register \`${req.arg}\``, (s.arg as { pos: Pos }).pos, suggestion(String(req.arg), names));
  }
  return [text(vm.machine.setTrap(req, s.enable), s.pos)];
}

/** `until` callback: a condition on registers/exit fields; "no exit yet" counts as false. */
function untilOf(e: Expr, ctx: Context): { until: () => boolean; onExit: (exit: Exit) => boolean } {
  const scope = { ...scopeOf(ctx), pendingOnly: true };
  const test = (exit?: Exit) => {
    try {
      return truthy(evaluate(e, exit ? { ...scope, exit } : scope));
    } catch (err) {
      if (err instanceof NoExitError) return false;
      throw err;
    }
  };
  test(); // validate names before the guest moves
  return { until: () => test(), onExit: (exit) => test(exit) };
}

function describeStop(m: Machine, r: RunResult, what: string): string {
  const at = `pc ${hex(m.pc)}`;
  switch (r.stop) {
    case "exit": return `${what} ${r.steps} instruction${r.steps === 1 ? "" : "s"}: exit #${r.exit!.index} ${r.exit!.reason} at ${hex(r.exit!.pc)} (pending: \`handle\` it or \`run\`)`;
    case "halted": return `${what} ${r.steps} instructions: the VM stopped: ${r.message}; ${m.exits.total} exits in all`;
    case "until": return `${what} ${r.steps} instructions: the condition holds at ${at}`;
    default: return `${what} ${r.steps} instructions, ${at}`;
  }
}

function interruptedError(r: RunResult, pos: Pos, m: Machine): never {
  throw new LabError("Interrupted", `interrupted after ${r.steps} instructions at pc ${hex(m.pc)}; the VM is kept as it stopped`, pos);
}

function limitError(r: RunResult, limit: number, pos: Pos, m: Machine): never {
  throw new LabError("StepLimit", `step limit of ${limit} reached at pc ${hex(m.pc)} (${r.steps} instructions this statement); the VM is kept as it stopped`, pos, "raise it with `set steplimit N` or `run limit N`");
}

function step(s: S<"step">, ctx: Context): Result[] {
  const vm = requireVm(ctx, s.pos);
  const m = vm.machine;
  const limit = ctx.session.settings.steplimit;
  const interrupted = ctx.options.interrupted;
  let r: RunResult;
  if (s.until === "exit") r = m.runUntilExit({ maxSteps: limit, interrupted });
  else if (s.until) r = m.runUntilExit({ maxSteps: limit, until: untilOf(s.until, ctx).until, interrupted });
  else {
    const n = s.count ? intArg(s.count, ctx, "the step count", limit) : 1;
    let steps = 0;
    r = { stop: "limit", steps: 0 };
    for (let i = 0; i < n; i++) {
      r = m.step();
      steps += r.steps;
      if (r.stop === "exit" || r.stop === "halted") break;
    }
    r = { ...r, steps };
    if (r.stop !== "exit" && r.stop !== "halted") r = { stop: "limit", steps };
    return [text(describeStop(m, r, "stepped"), s.pos)];
  }
  if (r.stop === "limit") limitError(r, limit, s.pos, m);
  if (r.stop === "interrupted") interruptedError(r, s.pos, m);
  return [text(describeStop(m, r, "stepped"), s.pos)];
}

function handle(s: S<"handle">, ctx: Context): Result[] {
  const m = requireVm(ctx, s.pos).machine;
  if (!m.pendingExit) return [text("no exit is pending", s.pos)];
  const exit = m.pendingExit;
  const r = m.handle();
  return [text(`exit #${exit.index} ${exit.reason}: ${r.message}${r.action === "halt" ? " (the VM stopped)" : ""}`, s.pos)];
}

function run(s: S<"run">, ctx: Context): Result[] {
  const vm = requireVm(ctx, s.pos);
  const m = vm.machine;
  const limit = s.limit ? intArg(s.limit, ctx, "the limit") : ctx.session.settings.steplimit;
  if (limit === 0) throw valueError("the limit must be at least 1", s.limit!.pos);
  // `run until COND` stops after an instruction that makes COND true, or at an exit that makes it
  // true (left pending, so `exit.reason == CR_ACCESS` stops before KVM handles it).
  const cond = s.until && s.until !== "halt" ? untilOf(s.until, ctx) : undefined;
  if (m.halted) return [text(`the VM is stopped: ${m.halted.message}`, s.pos)];
  const r = m.run({ maxSteps: limit, until: cond?.until, stopOnExit: cond?.onExit, interrupted: ctx.options.interrupted });
  if (r.stop === "limit") limitError(r, limit, s.pos, m);
  if (r.stop === "interrupted") interruptedError(r, s.pos, m);
  return [text(describeStop(m, r, "ran"), s.pos)];
}

/**
 * A `set` value as the machines take it, checked by the machines' own table (runtime/core/settings.ts):
 * `64k` (a number) as the word "64k", 1/0 as on/off, counts as numbers.
 */
function settingValue(name: string, v: Expr | { text: string; pos: Pos }, ctx: Context): { key: keyof LabSettings; machineName: string; value: string | number | boolean; arches: readonly Arch[] } {
  const raw = "type" in v ? evaluate(v as Expr, scopeOf(ctx)) : v.text.toLowerCase();
  const key = (SETTING_ALIASES[name] ?? name) as keyof LabSettings;
  const def = settingDef(key);
  if (!def) throw valueError(`\`${name}\` is not a machine setting`, v.pos);
  let value: string | number | boolean = typeof raw === "bigint" ? Number(raw) : typeof raw === "string" ? raw.toLowerCase() : raw;
  if (typeof raw === "bigint" && def.kind === "choice") value = raw % 1024n === 0n && raw > 0n ? `${raw / 1024n}k` : String(raw);
  if (typeof raw === "bigint" && def.kind === "bool") value = raw === 1n ? "on" : raw === 0n ? "off" : String(raw);
  if (def.kind === "count" && typeof value !== "number") throw valueError(`${name} must be a number from 1 to ${def.max}`, v.pos);
  try {
    return { key, machineName: def.name, value: checkSetting(def.arches[0]!, def.name, value), arches: def.arches };
  } catch (e) {
    const values = def.values ?? (def.kind === "bool" ? ON_OFF : []);
    throw valueError((e as Error).message.replace(/^\w+ must/, `${name} must`), v.pos, typeof value === "string" ? suggestion(value, values) : undefined);
  }
}

function set(s: S<"set">, ctx: Context): Result[] {
  const name = s.name.text.toLowerCase();
  if (!(name in SETTINGS)) throw nameError(`unknown setting \`${s.name.text}\``, s.name.pos, suggestion(name, Object.keys(SETTINGS)) ?? `settings: ${Object.keys(SETTINGS).join(", ")}`);
  const { key, machineName, value, arches } = settingValue(name, s.value, ctx);
  const vm = ctx.session.current;
  const armOnly = !arches.includes("x86_64");
  if (vm && (!armOnly || vm.arch === "arm64")) vm.machine.set(machineName, value); // throws before the session changes
  ctx.session.settings = { ...ctx.session.settings, [key]: value };
  const applied = vm ? (armOnly && vm.arch !== "arm64" ? " (arm64 VMs booted from now on)" : ` (VM \`${vm.name}\` and VMs booted from now on)`) : " (VMs booted from now on)";
  return [text(`${name} = ${String(value)}${applied}`, s.pos)];
}

export const VM_STATEMENTS: HandlerTable = { vmBoot, use, trap, step, handle, run, set };
