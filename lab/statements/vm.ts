// Statements that create, select, configure and drive VMs: vm boot, use, trap/untrap, step,
// handle, run, set.

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Expr, Pos, Statement } from "../../grammar/ast.js";
import { ARCHES, GUEST_MODES, MAX_RAM_MIB, type Arch, type ArchInfo, type GuestMode, type Exit, type Machine, type MachineOptions, type RunResult, type TrapRequest } from "../../runtime/core/machine.js";
import { ARCH_NAMES, SETTINGS, SETTING_ALIASES, suggestion } from "../../grammar/words.js";
import { checkSetting, ON_OFF, settingDef } from "../../runtime/core/settings.js";
import { withInterruptPoll } from "../../runtime/core/interrupt.js";
import type { VcpuControl } from "../../runtime/core/vcpus.js";
import { resolveTrap, trapWords, TRAPS } from "../vocabulary.js";
import { LabError, nameError, valueError } from "../errors.js";
import { dependsOnlyOnExit, evaluate, NoExitError, type Scope } from "../expr.js";
import type { Result } from "../results.js";
import type { Context, HandlerTable, LabSettings } from "../session.js";
import { hex, truthy } from "../values.js";
import { intArg, requireVm, scopeOf, text } from "./common.js";

type S<T extends Statement["type"]> = Extract<Statement, { type: T }>;

function archOf(word: { text: string; pos: Pos }, ctx: Context): Arch {
  const a = word.text.toLowerCase() === "x86" || word.text.toLowerCase() === "x86-64" ? "x86_64" : word.text.toLowerCase();
  if (!(ARCH_NAMES as readonly string[]).includes(a)) throw nameError(`unknown architecture \`${word.text}\``, word.pos, suggestion(word.text, ARCH_NAMES) ?? "architectures: arm64, x86_64");
  return available(a as Arch, ctx, word.pos);
}

function available(a: Arch, ctx: Context, pos: Pos): Arch {
  if (!ctx.session.factory.archInfo[a]) throw new LabError("NotAvailable", `the ${a} machine is not available in this build`, pos);
  return a;
}

/**
 * The architecture `vm boot` boots: the one it names, else the one its asm block names, else
 * the session's default (`set arch`, x86_64 unless changed).
 */
function bootArch(s: S<"vmBoot">, ctx: Context): Arch {
  const asmArch = s.guest?.type === "asm" && s.guest.arch ? archOf(s.guest.arch, ctx) : undefined;
  const arch = s.arch ? archOf(s.arch, ctx) : asmArch ?? available(ctx.session.settings.arch, ctx, s.pos);
  if (asmArch && asmArch !== arch && s.guest?.type === "asm") throw valueError(`this asm block is ${asmArch} code but the VM is ${arch}`, s.guest.arch!.pos);
  return arch;
}

/**
 * A machine-construction error as a LabError with one position: inside an asm block, the line
 * and column of the block's text in the program (the message without the assembler's own
 * position); for a guest file, the program's `from "FILE"` as the position and the file's line
 * and column after the message.
 */
function bootError(e: unknown, s: S<"vmBoot">, source: string): LabError {
  const err = e as Error & { hint?: string; detail?: unknown; line?: unknown; column?: unknown };
  const name = err.name === "Error" || err.name === "ExitlabError" ? "BootError" : err.name;
  if (typeof err.detail === "string" && s.guest?.type === "asm") return new LabError(name, err.detail, asmErrorPos(e, s.guest, source) ?? s.pos, err.hint);
  if (typeof err.detail === "string" && s.guest?.type === "file") {
    return new LabError(name, `${err.detail} (${s.guest.path} line ${String(err.line)}, column ${String(err.column)})`, s.guest.pos, err.hint);
  }
  return new LabError(name, err.message, s.guest?.type === "image" ? s.guest.pos : s.pos, err.hint);
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
  if (m.arch === "x86_64" && settings.apicv !== undefined) m.set("apicv", settings.apicv);
  if (m.arch !== "arm64") return;
  if (settings.granule !== undefined) m.set("granule", settings.granule);
  if (settings.pair_mmio !== undefined) m.set("pair_mmio", settings.pair_mmio);
}

function vmBoot(s: S<"vmBoot">, ctx: Context): Result[] {
  const session = ctx.session;
  const arch = bootArch(s, ctx);
  const info = session.info(arch)!;
  let guest: MachineOptions["guest"] = { builtin: "boot" };
  let guestName = "boot";
  let memoryMiB: number | undefined;
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
    // No fileName: bootError names the file and keeps one position per message.
    guest = { source: src };
    guestName = s.guest.path;
  } else if (s.guest?.type === "image") {
    const g = s.guest;
    const wants: readonly string[] = arch === "arm64" ? ["image"] : ["multiboot", "bzimage"];
    if (!wants.includes(g.format)) throw valueError(`\`${g.format}\` is not how ${arch} guests load: write \`vm boot ${arch} ${wants[0]} "FILE"\``, g.pos, arch === "arm64" ? "arm64 boots an ELF file, a Linux Image or a raw image (`image`)" : "x86_64 boots multiboot kernels (`multiboot`) and Linux bzImages (`bzimage`), as QEMU's -kernel does");
    if (g.mem) {
      const max = MAX_RAM_MIB[arch];
      if (!Number.isInteger(g.mem.value) || g.mem.value < 16 || g.mem.value > max) throw valueError(`guest memory of ${g.mem.value} MiB: ${arch} takes 16 to ${max} MiB`, g.mem.pos, "as QEMU's -m, in MiB: `mem 256`");
      memoryMiB = g.mem.value;
    }
    const path = resolve(ctx.options.baseDir ?? process.cwd(), g.path);
    let image: Uint8Array;
    try {
      image = readFileSync(path);
    } catch (e) {
      throw new LabError("FileError", `cannot read ${g.path}: ${(e as Error).message}`, g.pos);
    }
    let initrd: { initrd: Uint8Array; initrdName: string } | object = {};
    if (g.initrd) {
      try {
        initrd = { initrd: readFileSync(resolve(ctx.options.baseDir ?? process.cwd(), g.initrd.path)), initrdName: g.initrd.path };
      } catch (e) {
        throw new LabError("FileError", `cannot read the initrd ${g.initrd.path}: ${(e as Error).message}`, g.initrd.pos, "`initrd \"FILE\"` names a file, relative to the script's folder");
      }
    }
    guest = { image, format: g.format, fileName: g.path, append: g.append ?? "", ...initrd };
    guestName = g.path;
  } else if (s.guest?.type === "asm") {
    // No fileName: bootError puts the block's line and column in the program.
    guest = { source: s.guest.body, ...asmMode(s.guest.mode, arch) };
    guestName = "asm block";
  }
  const name = s.name?.text ?? arch;
  let machine: Machine;
  try {
    // Assembling a large block polls the interrupt flag (runtime/core/interrupt.ts).
    machine = withInterruptPoll(ctx.options.interrupted, () =>
      session.factory.createMachine(arch, {
      guest,
      settings: { era: session.settings.era, stepLimit: session.settings.steplimit, ...(arch === "arm64" && session.settings.gic ? { gic: session.settings.gic } : {}), ...(arch === "arm64" && session.settings.model ? { model: session.settings.model } : {}), ...(session.settings.vcpus ? { vcpus: session.settings.vcpus } : {}), ...(session.settings.quantum ? { quantum: session.settings.quantum } : {}) },
      exitCap: session.settings.exitcap,
      traceCapEvents: session.settings.tracecap,
      ...(memoryMiB === undefined ? {} : { memoryMiB }),
    }),
    );
    applyArchSettings(machine, session.settings);
  } catch (e) {
    throw bootError(e, s, ctx.source);
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
  const verb = s.enable ? "trap" : "untrap";
  const argText = s.arg ? ("type" in s.arg ? sourceText(s.arg, ctx) : s.arg.text) : "";
  if (found.arg !== undefined) {
    // A form (`cr0`) names its argument already.
    if (s.arg) throw valueError(`\`${verb} ${s.kind.text}\` names its register already: \`${argText}\` is extra`, s.arg.pos, `write \`${verb} ${s.kind.text}\` or \`${verb} ${k} ${found.arg.replace(/^\D+/, "")}\``);
    return { kind: k, arg: found.arg };
  }
  const wants = found.kind.arg ? found.kind.argDoc ?? found.kind.arg : undefined;
  if (!s.arg) {
    if (wants) throw valueError(`\`${verb} ${k}\` needs ${wants}`, s.kind.pos);
    return { kind: k };
  }
  if (!wants) throw valueError(`\`${verb} ${k}\` takes no argument: \`${argText}\` is extra`, s.arg.pos, `write \`${verb} ${k}\``);
  if ("type" in s.arg) {
    const v = evaluate(s.arg as Expr, scopeOf(ctx));
    return { kind: k, arg: typeof v === "bigint" ? Number(v) : String(v) };
  }
  return { kind: k, arg: s.arg.text };
}

function sourceText(e: { pos: Pos }, ctx: Context): string {
  return ctx.source.slice(e.pos.offset, e.pos.end);
}

function trap(s: S<"trap">, ctx: Context): Result[] {
  const vm = requireVm(ctx, s.pos);
  const info = ctx.session.info(vm.arch);
  const req = trapRequest(s, ctx, vm.arch);
  if (req.kind === "sysreg" && typeof req.arg === "string" && info?.vocabulary.sysreg) {
    const names = info.vocabulary.sysreg.map((r) => r.name);
    if (!names.some((n) => n.toLowerCase() === String(req.arg).toLowerCase())) throw nameError(`unknown system register \`${req.arg}\``, (s.arg as { pos: Pos }).pos, suggestion(String(req.arg), names));
  }
  try {
    return [text(vm.machine.setTrap(req, s.enable), s.pos)];
  } catch (e) {
    // The machine refused the argument (`trap msr frob`, `trap cr 2`): say so at the argument.
    if (e instanceof Error && e.name === "ExitlabError") throw valueError(e.message, s.arg?.pos ?? s.kind.pos, (e as { hint?: string }).hint);
    throw e;
  }
}

/** `until` callback: a condition on registers/exit fields; "no exit yet" counts as false. */
function untilOf(e: Expr, ctx: Context): { until: (() => boolean) | undefined; onExit: (exit: Exit) => boolean } {
  const scope = { ...scopeOf(ctx), pendingOnly: true };
  const holds = (sc: Scope) => {
    try {
      return truthy(evaluate(e, sc));
    } catch (err) {
      if (err instanceof NoExitError) return false;
      throw err;
    }
  };
  holds(scope); // validate names before the guest moves
  // A condition on the exit alone is constant between exits: when false there, only exits are tested.
  const betweenExits = dependsOnlyOnExit(e, scope) && !holds({ ...scope, noExit: true });
  return { until: betweenExits ? undefined : () => holds(scope), onExit: (exit) => holds({ ...scope, exit }) };
}

/** "1 instruction", "2 instructions". */
function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}

/** What the machine had done before a statement ran it: to say what KVM did during it. */
interface Before {
  exits: number;
  emulated: number;
  pending: boolean;
}

function before(m: Machine): Before {
  return { exits: m.exits.total, emulated: m.emulated, pending: m.pendingExit !== null };
}

/**
 * The exits KVM handled and the instructions it emulated since `b`, in words ("" when none):
 * the guest's own instructions are `steps`; these ran in the hypervisor.
 */
function kvmWork(m: Machine, b: Before): string {
  const handled = m.exits.total - b.exits + (b.pending ? 1 : 0) - (m.pendingExit ? 1 : 0);
  const emulated = m.emulated - b.emulated;
  if (handled <= 0) return emulated > 0 ? ` (KVM emulated ${plural(emulated, "instruction")})` : "";
  return ` (KVM handled ${plural(handled, "exit")}${emulated > 0 ? `, emulating ${plural(emulated, "instruction")}` : ""})`;
}

function describeStop(m: Machine, r: RunResult, what: string, b: Before): string {
  const at = `pc ${hex(m.pc)}`;
  const did = `${what} ${plural(r.steps, "instruction")}${kvmWork(m, b)}`;
  switch (r.stop) {
    case "exit": return `${did}: exit #${r.exit!.index} ${r.exit!.reason} at ${hex(r.exit!.pc)} (pending: \`handle\` it or \`run\`)`;
    case "halted": return `${did}: the VM stopped: ${r.message}; ${plural(m.exits.total, "exit")} in all`;
    case "until": return `${did}: the condition holds at ${at}`;
    default: return `${did}, ${at}`;
  }
}

function interruptedError(r: RunResult, pos: Pos, m: Machine): never {
  throw new LabError("Interrupted", `interrupted after ${plural(r.steps, "instruction")} at pc ${hex(m.pc)}; the VM is kept as it stopped`, pos);
}

function limitError(r: RunResult, limit: number, pos: Pos, m: Machine): never {
  throw new LabError("StepLimit", `step limit of ${limit} reached at pc ${hex(m.pc)} (${plural(r.steps, "instruction")} this statement); the VM is kept as it stopped`, pos, "raise it with `set steplimit N` or `run limit N`");
}

function step(s: S<"step">, ctx: Context): Result[] {
  const vm = requireVm(ctx, s.pos);
  const m = vm.machine;
  if (m.halted) return [text(`the VM is stopped (${m.halted.message}): there is nothing to step`, s.pos)];
  if (m.pendingExit) {
    const e = m.pendingExit;
    return [text(`exit #${e.index} ${e.reason} at ${hex(e.pc)} is pending: the guest steps on once it is handled (\`handle\` it, or \`run\`)`, s.pos)];
  }
  // With several vCPUs, `step` runs the selected one (`vcpu N`); the others wait.
  if (m.vcpuControl && m.vcpuControl.count > 1) {
    try {
      return m.vcpuControl.pinned(() => stepOn(s, ctx, m));
    } catch (e) {
      if (e instanceof LabError) throw e;
      throw valueError((e as Error).message, s.pos, (e as { hint?: string }).hint);
    }
  }
  return stepOn(s, ctx, m);
}

function stepOn(s: S<"step">, ctx: Context, m: Machine): Result[] {
  const limit = ctx.session.settings.steplimit;
  const interrupted = ctx.options.interrupted;
  const b = before(m);
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
    return [text(describeStop(m, r, "stepped", b), s.pos)];
  }
  if (r.stop === "limit") limitError(r, limit, s.pos, m);
  if (r.stop === "interrupted") interruptedError(r, s.pos, m);
  return [text(describeStop(m, r, "stepped", b), s.pos)];
}

function handle(s: S<"handle">, ctx: Context): Result[] {
  const m = requireVm(ctx, s.pos).machine;
  if (!m.pendingExit) return [text("no exit is pending", s.pos)];
  const exit = m.pendingExit;
  const r = m.handle();
  return [text(`exit #${exit.index} ${exit.reason}: ${r.message}${r.action === "halt" ? " (the VM stopped)" : ""}`, s.pos)];
}

/** `run limit N`: checked by the table entry `set steplimit` is checked by (runtime/core/settings.ts). */
function limitArg(e: Expr, ctx: Context): number {
  const v = evaluate(e, scopeOf(ctx));
  if (typeof v !== "bigint") throw valueError("the limit must be a number", e.pos);
  try {
    return checkSetting("x86_64", "stepLimit", Number(v)) as number;
  } catch (err) {
    throw valueError((err as Error).message.replace(/^stepLimit must/, "the limit must"), e.pos, "`set steplimit N` sets it for every `step` and `run`");
  }
}

function run(s: S<"run">, ctx: Context): Result[] {
  const vm = requireVm(ctx, s.pos);
  const m = vm.machine;
  const limit = s.limit ? limitArg(s.limit, ctx) : ctx.session.settings.steplimit;
  // `run until COND` stops after an instruction that makes COND true, or at an exit that makes it
  // true (left pending, so `exit.reason == CR_ACCESS` stops before KVM handles it).
  const cond = s.until && s.until !== "halt" ? untilOf(s.until, ctx) : undefined;
  if (m.halted) return [text(`the VM is stopped: ${m.halted.message}`, s.pos)];
  const b = before(m);
  const r = m.run({ maxSteps: limit, until: cond?.until, stopOnExit: cond?.onExit, interrupted: ctx.options.interrupted });
  if (r.stop === "limit") limitError(r, limit, s.pos, m);
  if (r.stop === "interrupted") interruptedError(r, s.pos, m);
  return [text(describeStop(m, r, "ran", b), s.pos)];
}

/**
 * A `set` value as the machines take it, checked by the machines' own table (runtime/core/settings.ts):
 * `64k` (a number) as the word "64k", 1/0 as on/off, counts as numbers.
 */
function settingValue(name: string, v: Expr | { text: string; pos: Pos }, ctx: Context): { key: keyof LabSettings; machineName: string; value: string | number | boolean; arches: readonly Arch[] } {
  const raw = "type" in v ? evaluate(v as Expr, scopeOf(ctx)) : v.text.toLowerCase();
  // The session's own: which architecture `vm boot` boots when it names none.
  if (name === "arch") return { key: "arch", machineName: "", value: archOf({ text: String(raw), pos: v.pos }, ctx), arches: [] };
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

/** Settings of the session itself: they never change a booted VM. */
const SESSION_ONLY = new Set<keyof LabSettings>(["arch", "steplimit"]);

/**
 * What a VM is booted with: its KVM (era) and the hardware it was given — interrupt controller,
 * world-switch model, APICv. Booted VMs keep theirs when the session's changes (they are part of
 * the VM's history, and a comparison of two VMs must not change under it).
 */
const BOOT_TIME = new Set<keyof LabSettings>(["era", "gic", "model", "apicv", "vcpus"]);

/**
 * `set NAME VALUE`: the session's setting, for VMs booted from now on. The boot-time settings
 * (BOOT_TIME) leave booted VMs as they are (the result says which VMs keep another value); the
 * other machine settings also change the current VM (the result says so). `set NAME VALUE for VM`
 * changes that one VM only.
 */
function set(s: S<"set">, ctx: Context): Result[] {
  const name = s.name.text.toLowerCase();
  if (!(name in SETTINGS)) throw nameError(`unknown setting \`${s.name.text}\``, s.name.pos, suggestion(name, Object.keys(SETTINGS)) ?? `settings: ${Object.keys(SETTINGS).join(", ")}`);
  const { key, machineName, value, arches } = settingValue(name, s.value, ctx);
  if (s.vm) return [text(setForVm(s.vm, name, key, machineName, value, ctx), s.pos)];
  const session = ctx.session;
  // On/off settings are shown as the words they are set with.
  const word = (v: unknown): string => (typeof v === "boolean" ? (v ? "on" : "off") : String(v));
  const shown = `${name} = ${word(value)}`;
  if (key === "arch") {
    session.settings = { ...session.settings, arch: value as Arch };
    return [text(`${shown}: \`vm boot\` without an architecture boots ${String(value)}`, s.pos)];
  }
  if (key === "steplimit") {
    session.settings = { ...session.settings, steplimit: value as number };
    return [text(`${shown} (every \`step\` and \`run\` from now on)`, s.pos)];
  }
  if (BOOT_TIME.has(key)) {
    session.settings = { ...session.settings, [key]: value };
    const keep = [...session.vms.values()].filter((vm) => arches.includes(vm.arch) && vm.machine.settings[machineName] !== value);
    const was = (vm: (typeof keep)[number]) => word(vm.machine.settings[machineName] ?? "its era's default");
    const kept = keep.length ? `; ${keep.map((vm) => `\`${vm.name}\` keeps ${was(vm)}`).join(", ")} (\`set ${name} ${word(value)} for ${keep[0]!.name}\` changes one)` : "";
    const which = arches.length === 1 ? `${arches[0]} VMs` : "VMs";
    return [text(`${shown}: applies to ${which} booted from now on${kept}`, s.pos)];
  }
  const vm = session.current;
  const other = vm !== undefined && !arches.includes(vm.arch); // a setting of the other architecture
  if (vm && !other) vm.machine.set(machineName, value); // throws before the session changes
  session.settings = { ...session.settings, [key]: value };
  const applied = vm ? (other ? ` (${arches.join("/")} VMs booted from now on)` : ` (VM \`${vm.name}\` and VMs booted from now on)`) : " (VMs booted from now on)";
  return [text(`${shown}${applied}`, s.pos)];
}

/** `set NAME VALUE for VM`: one booted VM's setting; the session's stays as it is. */
function setForVm(vmName: { text: string; pos: Pos }, name: string, key: keyof LabSettings, machineName: string, value: string | number | boolean, ctx: Context): string {
  const vm = ctx.session.vms.get(vmName.text);
  if (!vm) throw nameError(`no VM named \`${vmName.text}\``, vmName.pos, suggestion(vmName.text, ctx.session.vms.keys()) ?? (ctx.session.vms.size ? `VMs: ${[...ctx.session.vms.keys()].join(", ")}` : "no VM has been booted"));
  if (SESSION_ONLY.has(key)) throw valueError(`\`${name}\` is a setting of the session, not of one VM`, vmName.pos, `write \`set ${name} ${String(value)}\``);
  const arches = settingDef(key)?.arches ?? [];
  if (!arches.includes(vm.arch)) throw valueError(`\`${name}\` is ${arches.length === 1 ? `an ${arches[0]}` : "not a"} setting${arches.length === 1 ? "" : ` of ${vm.arch} VMs`} and \`${vm.name}\` is ${vm.arch}`, vmName.pos);
  const old = vm.machine.settings[machineName];
  vm.machine.set(machineName, value);
  return `${name} = ${String(value)} for VM \`${vm.name}\`${old !== undefined && old !== value ? ` (was ${String(old)})` : ""}`;
}

/** `irq N`: the VMM raises interrupt N of the current VM's interrupt controller (Machine.injectIrq: arm64 vGIC, x86 local APIC). */
function irq(s: S<"irq">, ctx: Context): Result[] {
  const vm = requireVm(ctx, s.pos);
  if (s.gsi) return irqLine(s, ctx, vm);
  const n = intArg(s.intid, ctx, "the interrupt number");
  const m = vm.machine as Machine & { injectIrq?: (intid: number) => string };
  if (!m.injectIrq) throw valueError(`\`irq\` needs an interrupt controller the machine models; \`${vm.name}\` (${vm.arch}) has none`, s.pos);
  try {
    return [text(m.injectIrq(n), s.pos)];
  } catch (e) {
    throw valueError((e as Error).message, s.intid.pos, (e as { hint?: string }).hint);
  }
}

/** `irq gsi N [high|low]` (x86): KVM_IRQ_LINE of GSI N through the PIC and the I/O APIC (X86Machine.irqLine). */
function irqLine(s: S<"irq">, ctx: Context, vm: ReturnType<typeof requireVm>): Result[] {
  const m = vm.machine as Machine & { irqLine?: (gsi: number, level?: boolean) => string };
  if (!m.irqLine) throw valueError(`\`irq gsi\` drives an x86 GSI line; \`${vm.name}\` is ${vm.arch}`, s.pos, "arm64: `irq INTID` (a PPI or SPI of the vGIC)");
  const gsi = intArg(s.intid, ctx, "the GSI");
  const word = s.level?.word.toLowerCase();
  if (s.level && word !== "high" && word !== "low") throw valueError(`\`${s.level.word}\` is not a line level: expected \`high\` or \`low\``, s.level.pos, `\`irq gsi ${gsi} high\` asserts the line, \`low\` deasserts it; with neither the line is pulsed (an edge)`);
  try {
    return [text(m.irqLine(gsi, word === undefined ? undefined : word === "high"), s.pos)];
  } catch (e) {
    throw valueError((e as Error).message, s.intid.pos, (e as { hint?: string }).hint);
  }
}

/** The current VM's vCPUs, or an error naming the statement: machines without SMP have one vCPU. */
function vcpusOf(ctx: Context, pos: Pos, what: string): VcpuControl {
  const vm = requireVm(ctx, pos);
  if (!vm.machine.vcpuControl) throw valueError(`\`${what}\` needs a machine with several vCPUs; \`${vm.name}\` (${vm.arch}) has one here`, pos, "boot one with several: `set vcpus 2` then `vm boot ...`");
  return vm.machine.vcpuControl;
}

/** `vcpu N`: select the vCPU `show regs`, `show exit` and `step` address. */
function vcpu(s: S<"vcpu">, ctx: Context): Result[] {
  const c = vcpusOf(ctx, s.pos, "vcpu");
  const n = intArg(s.cpu, ctx, "the vCPU number", 1 << 20);
  try {
    c.select(n);
  } catch (e) {
    throw valueError((e as Error).message, s.cpu.pos, (e as { hint?: string }).hint);
  }
  const v = c.list()[n]!;
  return [text(`vCPU ${n} of ${c.count} selected (${v.state}, pc ${hex(v.pc)})`, s.pos)];
}

/** `ipi CPU [sgi N]`: the VMM makes an SGI pending for a vCPU (VcpuControl.ipi). */
function ipi(s: S<"ipi">, ctx: Context): Result[] {
  const c = vcpusOf(ctx, s.pos, "ipi");
  const cpu = intArg(s.cpu, ctx, "the vCPU number", 1 << 20);
  const sgi = s.sgi ? intArg(s.sgi, ctx, "the SGI number or vector", 1 << 20) : undefined;
  try {
    return [text(c.ipi!(cpu, sgi), s.pos)];
  } catch (e) {
    throw valueError((e as Error).message, (/SGI|vector/.test((e as Error).message) ? s.sgi : s.cpu)?.pos ?? s.pos, (e as { hint?: string }).hint);
  }
}

export const VM_STATEMENTS: HandlerTable = { vmBoot, use, trap, step, handle, run, set, irq, vcpu, ipi };
