// A lab session: the VMs (by name, one current), variables, loaded traces and settings, and
// `execute(source)` which runs statements one by one and returns Results.
//
// Recovery rule: each statement validates its arguments (names, numbers, settings) before it
// changes anything, so a failing statement leaves the session as it was. The exceptions are the
// statements that run the guest (`step`, `run`, `handle`): if the step limit is reached or the
// modelled KVM stops the VM, the guest stays where it stopped (so it can be inspected) and the
// statement reports an error.

import type { Arch, ArchInfo, Machine, MachineOptions } from "../runtime/core/machine.js";
import type { Statement } from "../grammar/ast.js";
import { parse, ExitlabSyntaxError } from "../grammar/parse.js";
import { errorResult, LabError } from "./errors.js";
import type { Result } from "./results.js";
import type { Radix, Value } from "./values.js";
import { VM_STATEMENTS } from "./statements/vm.js";
import { DATA_STATEMENTS } from "./statements/data.js";
import { DECODE_STATEMENTS } from "./statements/decode.js";
import { TRACE_STATEMENTS } from "./statements/traces.js";
import type { ReadResult } from "../runtime/traces/reader.js";
import type { TraceExits } from "../runtime/traces/exits.js";
import type { SqlEngine } from "./sql/engine.js";

/** Where machines come from (runtime/index.ts by default; tests inject one arch). */
export interface MachineFactory {
  createMachine(arch: Arch, options: MachineOptions): Machine;
  archInfo: Partial<Record<Arch, ArchInfo>>;
}

export interface VmEntry {
  name: string;
  arch: Arch;
  machine: Machine;
  guest: string;
}

/** A trace read by `load trace`: its events in the event model, its exits, what the reader saw. */
export interface LoadedTrace {
  name: string;
  path: string;
  read: ReadResult;
  exits: TraceExits;
  /** Which load this was (a reload under the same name is a new table for SQL). */
  id: number;
}

export interface LabSettings {
  /** What `vm boot` without an architecture boots. */
  arch: Arch;
  steplimit: number;
  era: "2015" | "today";
  /** arm64-only settings, applied to arm64 VMs when set. */
  granule?: string;
  pair_mmio?: boolean;
  /** arm64 interrupt controller (v2/v3) of VMs booted from now on (default by era). */
  gic?: string;
  /** arm64 world switch (nvhe/vhe) of VMs booted from now on (default by era). */
  model?: string;
  /** arm64: vCPUs of VMs booted from now on (unset: 1), and the scheduler's quantum in instructions. */
  vcpus?: number;
  quantum?: number;
  /** x86: APICv on/off (unset: the era's default). */
  apicv?: boolean;
  /** Compiled blocks (true) or the interpreter only, on VMs of both architectures. */
  jit?: boolean;
  /** Storage caps of VMs (exits and trace events kept). */
  exitcap?: number;
  tracecap?: number;
}

export interface ExecuteOptions {
  /** Polled during long runs and between statements; true stops at the next instruction boundary. */
  interrupted?: () => boolean;
  /** Stop at the first error (the CLI); notebooks keep going. */
  stopOnError?: boolean;
  /** Directory that relative file names (`from "x.s"`, `save trace`) are resolved against. */
  baseDir?: string;
}

/** What a statement handler gets. */
export interface Context {
  session: Session;
  source: string;
  options: ExecuteOptions;
}

export type Handler<T extends Statement["type"]> = (s: Extract<Statement, { type: T }>, ctx: Context) => Result[];
export type HandlerTable = { [T in Statement["type"]]?: Handler<T> };

const HANDLERS: HandlerTable = { ...VM_STATEMENTS, ...DATA_STATEMENTS, ...DECODE_STATEMENTS, ...TRACE_STATEMENTS };

/**
 * The runtime's machines. runtime/index.ts loads both arches; if one arch fails to load (e.g. it
 * is still being built), the other is still offered and booting the missing one says so.
 */
export async function defaultFactory(): Promise<MachineFactory> {
  try {
    const rt = await import("../runtime/index.js");
    return { createMachine: rt.createMachine, archInfo: rt.archInfo };
  } catch {
    const archInfo: Partial<Record<Arch, ArchInfo>> = {};
    const makers: Partial<Record<Arch, (o: MachineOptions) => Machine>> = {};
    const parts: [Arch, string, string, string, string][] = [
      ["x86_64", "../runtime/x86/machine.js", "createX86Machine", "../runtime/x86/info.js", "x86Info"],
      ["arm64", "../runtime/arm64/machine.js", "createArm64Machine", "../runtime/arm64/info.js", "arm64Info"],
    ];
    for (const [arch, machinePath, maker, infoPath, infoName] of parts) {
      try {
        const m = (await import(machinePath)) as Record<string, unknown>;
        const i = (await import(infoPath)) as Record<string, unknown>;
        makers[arch] = m[maker] as (o: MachineOptions) => Machine;
        archInfo[arch] = i[infoName] as ArchInfo;
      } catch {
        /* this arch is not available in this build */
      }
    }
    return {
      archInfo,
      createMachine: (arch, options) => {
        const make = makers[arch];
        if (!make) throw new Error(`the ${arch} machine is not available in this build`);
        return make(options);
      },
    };
  }
}

export class Session {
  readonly vms = new Map<string, VmEntry>();
  currentName: string | null = null;
  readonly variables = new Map<string, Value>();
  /** How each variable's number is written (hex for hardware state, else decimal). */
  readonly variableRadix = new Map<string, Radix>();
  readonly traces = new Map<string, LoadedTrace>();
  /** Loads so far (each loaded trace's id). */
  traceLoads = 0;
  /** DuckDB, started by the first `sql` or export. */
  sql?: SqlEngine;
  settings: LabSettings = { arch: "x86_64", steplimit: 1_000_000, era: "2015" };

  constructor(readonly factory: MachineFactory) {}

  /** A session with the runtime loaded (or the given factory). */
  static async create(factory?: MachineFactory): Promise<Session> {
    return new Session(factory ?? (await defaultFactory()));
  }

  get current(): VmEntry | undefined {
    return this.currentName ? this.vms.get(this.currentName) : undefined;
  }

  /** Facts about an arch, or of the current VM's arch. */
  info(arch?: Arch): ArchInfo | undefined {
    const a = arch ?? this.current?.arch;
    return a ? this.factory.archInfo[a] : undefined;
  }

  /** Exit-reason names of the current VM's arch (all known arches when none is running). */
  reasonNames(): string[] {
    const infos = this.current ? [this.info()] : Object.values(this.factory.archInfo);
    return infos.flatMap((i) => i?.exitReasons.map((r) => r.name) ?? []);
  }

  /** Run a program; one or more Results per statement, errors included (never throws on bad input). */
  execute(source: string, options: ExecuteOptions = {}): Result[] {
    let statements: Statement[];
    try {
      statements = parse(source).statements;
    } catch (e) {
      if (e instanceof ExitlabSyntaxError) return [errorResult(source, "SyntaxError", e.message, e.pos, e.hint)];
      // Not expected (the Earley parser is iterative; deep nesting parses): report it, never throw.
      const firstLineEnd = source.includes("\n") ? source.indexOf("\n") : source.length;
      const start = { line: 1, col: 1, offset: 0, end: firstLineEnd };
      return [errorResult(source, "InternalError", `the parser failed: ${e instanceof Error ? e.message : String(e)}`, start)];
    }
    const out: Result[] = [];
    const ctx: Context = { session: this, source, options };
    for (const s of statements) {
      if (options.interrupted?.()) {
        out.push(errorResult(source, "Interrupted", "interrupted before this statement", s.pos));
        break;
      }
      const results = this.executeStatement(s, ctx);
      for (const r of results) out.push(r);
      if (options.stopOnError && results.some((r) => r.kind === "error")) break;
    }
    return out;
  }

  private executeStatement(s: Statement, ctx: Context): Result[] {
    const handler = HANDLERS[s.type] as Handler<typeof s.type> | undefined;
    try {
      if (!handler) throw new LabError("NotImplemented", `\`${s.type}\` is not implemented`, s.pos);
      return handler(s as never, ctx);
    } catch (e) {
      if (e instanceof LabError) return [errorResult(ctx.source, e.name, e.message, e.pos ?? s.pos, e.hint)];
      if (isStackOverflow(e)) return [errorResult(ctx.source, "TooDeep", "the statement nests too deeply to evaluate", s.pos, NESTING_HINT)];
      if (e instanceof Error) {
        const hint = (e as { hint?: unknown }).hint;
        // The runtime's ExitlabError is bad input it refused (a setting, a register, a view argument).
        const name = e.name === "Error" ? "RuntimeError" : e.name === "ExitlabError" ? "ValueError" : e.name;
        return [errorResult(ctx.source, name, e.message, s.pos, typeof hint === "string" ? hint : undefined)];
      }
      return [errorResult(ctx.source, "RuntimeError", String(e), s.pos)];
    }
  }
}

const NESTING_HINT = "split the expression into steps with `let`";

/** V8's "Maximum call stack size exceeded": the evaluator recursed past the stack. */
function isStackOverflow(e: unknown): boolean {
  return e instanceof RangeError && /call stack/i.test(e.message);
}
