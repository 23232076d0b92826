// Side-by-side measures 1-3: exitlab and its anchor (QEMU user mode) timed in the same run,
// interleaved round by round (the order flips every round so neither side always runs on a
// warmer or cooler machine), reported as medians and the ratio of medians. One short untimed
// exitlab run per measure comes first (V8 compiles the interpreter's hot paths).

import { performance } from "node:perf_hooks";
import type { Arch } from "../runtime/core/machine.js";
import { createMachine } from "../runtime/index.js";
import { timeProgram, type AnchorLab, type AnchorProgram, type AnchorTimes } from "./anchor.js";
import * as G from "./guests.js";
import { settingDef } from "../runtime/core/settings.js";

export const median = (xs: readonly number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** One exitlab run: what it did (instructions or exits, counted by the machine) and how long. */
export interface ExitlabSample {
  work: number;
  ms: number;
  steps: number;
  exits: number;
  halted: boolean;
}

/** Create the machine (not timed), run it to the end (timed). */
export function runExitlab(arch: Arch, source: string, count: "steps" | "exits"): ExitlabSample {
  const m = createMachine(arch, { guest: { source }, settings: { stepLimit: settingDef("stepLimit")!.max! } });
  const t0 = performance.now();
  m.run({ maxSteps: 1e15 });
  const ms = performance.now() - t0;
  const exits = m.exits.total;
  return { work: count === "steps" ? m.steps : exits, ms, steps: m.steps, exits, halted: m.halted !== null };
}

export interface PairSpec {
  id: string;
  name: string;
  unit: string;
  /** One exitlab run. */
  exitlab: () => ExitlabSample;
  /** A short untimed exitlab run (a tenth of the count) before the rounds: JIT warm-up. */
  warmup: () => void;
  /** The anchor program, or why there is none. */
  anchor: AnchorProgram | string;
  /** Work of one anchor run (iterations × instructions per iteration, or system calls). */
  anchorWork: number;
  anchorLabel: string;
  /** Another anchor timed in the same rounds, shown in the note only (e.g. qemu-x86_64 beside qemu-i386). */
  extra?: { label: string; program: AnchorProgram; work: number };
  target: string;
  /** Whether the target is met, from exitlab's value and the ratio (undefined: cannot tell). */
  met: (value: number, ratio: number) => boolean | undefined;
  note: string;
}

export interface PairResult {
  spec: PairSpec;
  /** Median exitlab rate (work per second). */
  value: number;
  /** Anchor rate: work / (median full run − median empty run). */
  anchor?: number;
  ratio?: number;
  met?: boolean;
  exitlabSamples: ExitlabSample[];
  anchorSamples: AnchorTimes[];
  /** Why the anchor has no figure. */
  anchorMissing?: string;
  note: string;
}

export interface Counts {
  a64Loop: number;
  x86Loop: number;
  armExits: number;
  x86Exits: number;
  qemuLoop: number;
  qemuSyscalls: number;
}

/**
 * Iteration counts at EXITLAB_BENCH_SCALE = 1: about 1 s per exitlab run at 2025 speed. The exit
 * loops run a million exits each (the exit cap's default): a run that long is what the figure is
 * about (million-exit traces), and a VM's fixed start-up costs (fresh trace pages and exit
 * chunks, the first exits through code the last VM's feedback does not fit) weigh in it as in a
 * real run rather than dominate it.
 */
export function counts(scale: number): Counts {
  const n = (base: number) => Math.max(1, Math.round(base * scale));
  return { a64Loop: n(25_000_000), x86Loop: n(25_000_000), armExits: n(1_000_000), x86Exits: n(1_000_000), qemuLoop: n(100_000_000), qemuSyscalls: n(1_000_000) };
}

/** Does exitlab run the 64-bit form of the x86 loop (long mode entered by the guest)? */
function x86LongModeWorks(): boolean {
  try {
    const s = runExitlab("x86_64", G.exitlabX86Loop64(10), "steps");
    return s.halted && s.steps >= 10 * G.X86_LOOP_INSNS;
  } catch {
    return false;
  }
}

const buildOr = (f: () => AnchorProgram): AnchorProgram | string => {
  try {
    return f();
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
};

const tenth = (n: number) => Math.max(1, Math.round(n / 10));
const atLeast = (x: number) => (_v: number, ratio: number) => (Number.isFinite(ratio) ? ratio >= x : undefined);

export function pairSpecs(lab: AnchorLab, c: Counts): PairSpec[] {
  const specs: PairSpec[] = [];
  specs.push({
    id: "a64_loop",
    name: "A64 tight loop: guest instructions/s",
    unit: "insn/s",
    exitlab: () => runExitlab("arm64", G.exitlabA64Loop(c.a64Loop), "steps"),
    warmup: () => runExitlab("arm64", G.exitlabA64Loop(tenth(c.a64Loop)), "steps"),
    anchor: buildOr(() => lab.program("aarch64", c.qemuLoop, (n) => G.anchorLoop("aarch64", n))),
    anchorWork: c.qemuLoop * G.A64_LOOP_INSNS,
    anchorLabel: "qemu-aarch64",
    target: "≥ 1/5 of QEMU",
    met: atLeast(1 / 5),
    note: `add/eor lsr/subs/b.ne; exitlab ${c.a64Loop.toLocaleString("en-US")} it., QEMU ${c.qemuLoop.toLocaleString("en-US")} it.`,
  });
  specs.push({
    id: "a64_loop_timer",
    name: "A64 tight loop, virtual timer interrupt every 1 ms: guest instructions/s",
    unit: "insn/s",
    exitlab: () => runExitlab("arm64", G.exitlabA64TimerLoop(c.a64Loop), "steps"),
    warmup: () => runExitlab("arm64", G.exitlabA64TimerLoop(tenth(c.a64Loop)), "steps"),
    anchor: buildOr(() => lab.program("aarch64", c.qemuLoop, (n) => G.anchorLoop("aarch64", n))),
    anchorWork: c.qemuLoop * G.A64_LOOP_INSNS,
    anchorLabel: "qemu-aarch64 (no interrupts)",
    target: "≥ 1/5 of QEMU",
    met: atLeast(1 / 5),
    note: `the loop above with CNTV firing PPI 27 through the GICv2 every ${G.TIMER_PERIOD_MS} ms of modelled time, a handler that acks, re-arms, counts and EOIs (interrupts looked at between blocks); exitlab ${c.a64Loop.toLocaleString("en-US")} it.`,
  });
  const long = x86LongModeWorks();
  const x86Anchor = long ? "x86_64" : "i386";
  const extra64 = long ? undefined : buildOr(() => lab.program("x86_64", c.qemuLoop, (n) => G.anchorLoop("x86_64", n)));
  specs.push({
    id: "x86_loop",
    name: `x86 tight loop (${long ? "64-bit" : "32-bit"}): guest instructions/s`,
    unit: "insn/s",
    exitlab: () => runExitlab("x86_64", long ? G.exitlabX86Loop64(c.x86Loop) : G.exitlabX86Loop32(c.x86Loop), "steps"),
    warmup: () => runExitlab("x86_64", long ? G.exitlabX86Loop64(tenth(c.x86Loop)) : G.exitlabX86Loop32(tenth(c.x86Loop)), "steps"),
    anchor: buildOr(() => lab.program(x86Anchor, c.qemuLoop, (n) => G.anchorLoop(x86Anchor, n))),
    anchorWork: c.qemuLoop * G.X86_LOOP_INSNS,
    anchorLabel: `qemu-${x86Anchor}`,
    extra: typeof extra64 === "object" ? { label: "qemu-x86_64 (64-bit loop)", program: extra64, work: c.qemuLoop * G.X86_LOOP_INSNS } : undefined,
    target: "≥ 1/10 of QEMU",
    met: atLeast(1 / 10),
    note: long
      ? `add/mov/shr/xor/dec/jnz on 64-bit regs; exitlab enters long mode first (~20 insns); exitlab ${c.x86Loop.toLocaleString("en-US")} it., QEMU ${c.qemuLoop.toLocaleString("en-US")} it.`
      : `exitlab cannot run the 64-bit form: 32-bit loop (.code32, %eax...) vs qemu-i386; exitlab ${c.x86Loop.toLocaleString("en-US")} it., QEMU ${c.qemuLoop.toLocaleString("en-US")} it.`,
  });
  if (long) {
    specs.push({
      id: "x86_loop_timer",
      name: "x86 tight loop (64-bit), APIC timer interrupt every 1 ms: guest instructions/s",
      unit: "insn/s",
      exitlab: () => runExitlab("x86_64", G.exitlabX86TimerLoop64(c.x86Loop), "steps"),
      warmup: () => runExitlab("x86_64", G.exitlabX86TimerLoop64(tenth(c.x86Loop)), "steps"),
      anchor: buildOr(() => lab.program("x86_64", c.qemuLoop, (n) => G.anchorLoop("x86_64", n))),
      anchorWork: c.qemuLoop * G.X86_LOOP_INSNS,
      anchorLabel: "qemu-x86_64 (no interrupts)",
      target: "≥ 1/10 of QEMU",
      met: atLeast(1 / 10),
      note: `the loop above with the x2APIC timer periodic at ${G.X86_TIMER_PERIOD_CYCLES.toLocaleString("en-US")} modelled cycles and a handler that counts and EOIs (interrupts looked at between blocks); exitlab ${c.x86Loop.toLocaleString("en-US")} it.`,
    });
  }
  if (long) {
    specs.push({
      id: "x86_call_loop",
      name: "x86 call loop (64-bit, function through a pointer): guest instructions/s",
      unit: "insn/s",
      exitlab: () => runExitlab("x86_64", G.exitlabX86CallLoop64(c.x86Loop), "steps"),
      warmup: () => runExitlab("x86_64", G.exitlabX86CallLoop64(tenth(c.x86Loop)), "steps"),
      anchor: buildOr(() => lab.program("x86_64", c.qemuLoop, (n) => G.anchorCallLoop(n))),
      anchorWork: c.qemuLoop * G.X86_CALL_LOOP_INSNS,
      anchorLabel: "qemu-x86_64",
      target: "≥ 1/10 of QEMU",
      met: atLeast(1 / 10),
      note: `call *%r12 / add, mov, shr, xor / ret / dec, jnz: the shape of kvm-unit-tests' vmexit.c loops, run as one trace; exitlab ${c.x86Loop.toLocaleString("en-US")} it., QEMU ${c.qemuLoop.toLocaleString("en-US")} it.`,
    });
  }
  for (const [arch, target, guest] of [["arm64", "aarch64", "hvc #0 PSCI_VERSION"], ["x86_64", "x86_64", "cpuid"]] as const) {
    const n = arch === "arm64" ? c.armExits : c.x86Exits;
    specs.push({
      id: `${arch}_exits`,
      name: `${arch} exits handled/s, trace recorded`,
      unit: "exits/s",
      exitlab: () => runExitlab(arch, G.exitlabExitLoop(arch, n), "exits"),
      // Three machines, not one: each new machine's objects and closures meet feedback the last
      // one left, and the exit path's optimised code settles (deoptimises, is reoptimised) over
      // the first two or three (node --trace-deopt); a process running many VMs (a notebook, the
      // kvm-unit-tests runner) is past that.
      warmup: () => {
        for (let i = 0; i < 3; i++) runExitlab(arch, G.exitlabExitLoop(arch, tenth(n)), "exits");
      },
      anchor: buildOr(() => lab.program(target, c.qemuSyscalls, (k) => G.anchorSyscallLoop(target, k))),
      anchorWork: c.qemuSyscalls,
      anchorLabel: `qemu-${target} getpid/s`,
      target: "≥ 1,000,000 exits/s",
      met: (v) => v >= 1_000_000,
      note: `${guest} loop, ${n.toLocaleString("en-US")} it.; QEMU ${c.qemuSyscalls.toLocaleString("en-US")} getpid`,
    });
  }
  return specs;
}

/** Run `rounds` rounds of every pair, alternating exitlab and the anchor within each round. */
export function runPairs(specs: PairSpec[], rounds: number, log: (s: string) => void): PairResult[] {
  const ex: ExitlabSample[][] = specs.map(() => []);
  const an: AnchorTimes[][] = specs.map(() => []);
  const extra: AnchorTimes[][] = specs.map(() => []);
  const failed: (string | undefined)[] = specs.map((s) => (typeof s.anchor === "string" ? s.anchor : undefined));
  for (const s of specs) s.warmup();
  for (let r = 0; r < rounds; r++) {
    specs.forEach((s, i) => {
      const sides: (() => void)[] = [
        () => ex[i]!.push(s.exitlab()),
        () => {
          if (typeof s.anchor === "string" || failed[i]) return;
          try {
            an[i]!.push(timeProgram(s.anchor));
            if (s.extra) extra[i]!.push(timeProgram(s.extra.program));
          } catch (e) {
            failed[i] = `anchor failed: ${(e as Error).message}`;
          }
        },
      ];
      if (r % 2) sides.reverse();
      for (const side of sides) side();
    });
    log(`round ${r + 1}/${rounds} done`);
  }
  return specs.map((spec, i) => {
    const samples = ex[i]!;
    const value = median(samples.map((x) => x.work / (x.ms / 1000)));
    const res: PairResult = { spec, value, exitlabSamples: samples, anchorSamples: an[i]!, note: spec.note };
    if (samples.some((x) => !x.halted)) res.note += "; exitlab run NOT halted";
    const first = samples[0];
    if (first) res.note += `; exitlab run: ${first.steps.toLocaleString("en-US")} insns, ${first.exits.toLocaleString("en-US")} exits (machine.steps, machine.exits)`;
    res.note += `; exitlab median ${median(samples.map((x) => x.ms)).toFixed(0)} ms/run`;
    const times = an[i]!;
    if (failed[i] || times.length === 0) {
      res.anchorMissing = failed[i] ?? "anchor not run";
      res.met = spec.met(value, NaN);
      return res;
    }
    const full = median(times.map((t) => t.full));
    const empty = median(times.map((t) => t.empty));
    const anchorMs = full - empty;
    res.anchor = anchorMs > 0 ? spec.anchorWork / (anchorMs / 1000) : NaN;
    res.ratio = value / res.anchor;
    res.met = spec.met(value, res.ratio);
    res.note += `; QEMU median ${full.toFixed(0)} ms/run − ${empty.toFixed(0)} ms start-up`;
    if (anchorMs < 5 * empty) res.note += " (anchor run short: raise EXITLAB_BENCH_SCALE)";
    const xs = extra[i]!;
    if (spec.extra && xs.length) {
      const x = median(xs.map((t) => t.full)) - median(xs.map((t) => t.empty));
      res.note += `; extra: ${spec.extra.label} ${Math.round(spec.extra.work / (x / 1000)).toLocaleString("en-US")} ${spec.unit}`;
    }
    return res;
  });
}
