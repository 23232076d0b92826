// Running kvm-unit-tests entries on exitlab and on QEMU (the reference), and comparing what each
// printed: every PASS/FAIL/SKIP/XPASS/XFAIL/SUMMARY line, in order. exitlab boots the binary as
// QEMU's -kernel does (`{ image, append }`: runtime/arm64/image.ts, runtime/x86/image.ts) on its one
// machine per architecture (arm64 mach-virt and x86 pc with pc-testdev, 128 MiB and the entry's -smp vCPUs); QEMU runs under TCG with the entry's own -smp, -append and extra options, as upstream's
// arm/run and x86/run build them.

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createMachine } from "../../runtime/index.js";
import { MAX_RAM_MIB, type Arch } from "../../runtime/core/machine.js";
import type { KutEntry } from "./config.js";
import { cpuOf } from "./cpu-model.js";
import { settingDef } from "../../runtime/core/settings.js";
import { MODELLED_CPU_HZ } from "../../runtime/core/clock.js";
import { ExitlabError } from "../../runtime/core/errors.js";
import { DebugExit } from "../../runtime/devices/debug-exit.js";

/** The machine's own step limit at its maximum: the run below sets the bound (`maxSteps`, the deadline). */
const STEP_LIMIT_MAX = settingDef("stepLimit")!.max!;

/** The value upstream's $MAX_SMP stands for here (the number of host CPUs there). */
export const MAX_SMP = 2;
/**
 * Seconds an entry may run (either side) unless its `timeout =` says otherwise: upstream's
 * default (kvm-unit-tests scripts/runtime.bash run(): `timeout="${TIMEOUT:-${11:-90s}}"`).
 */
export const DEFAULT_TIMEOUT_S = 90;
/** exitlab's machines: up to 8 vCPUs (the entry's -smp); 128 MiB unless the entry asks for more (-m). */
const EXITLAB_SMP: Record<Arch, number> = { arm64: 8, x86_64: 8 };
const EXITLAB_MEM_MIB = 128;

/** Lines that carry a test's results (kvm-unit-tests lib/report.c). */
const RESULT = /^(PASS|FAIL|SKIP|XPASS|XFAIL|SUMMARY|ABORT)\b/;

/**
 * A result line's start after other text on the same line: the firmware's last words before the
 * guest runs end without a newline (SeaBIOS's "Booting from ROM.." under QEMU), so when the guest's
 * first line is a result line the console reads "Booting from ROM..PASS: null". report.c prints
 * "KEYWORD: " (lib/report.c va_report, report_summary), hence the colon.
 */
const RESULT_AFTER_TEXT = /(?<=[^\w])(?:PASS|FAIL|SKIP|XPASS|XFAIL|SUMMARY|ABORT): /;

/**
 * The result lines of a console: report.c's lines, and for x86/vmexit.c (`file` vmexit.flat), which
 * prints no report lines, what it prints instead (vmexitLines). `file` is the entry's binary.
 * The first result line may follow firmware text on its line (RESULT_AFTER_TEXT): it is taken from
 * its keyword on, as the guest printed it; once a result line was seen, only lines that start with
 * a keyword count, as before.
 */
export function resultLines(console: string, file?: string): string[] {
  const lines = console.split("\n").map((l) => l.replace(/\r$/, ""));
  if (file === "vmexit.flat") return vmexitLines(lines);
  const out: string[] = [];
  for (const l of lines) {
    if (RESULT.test(l)) out.push(l);
    else if (out.length === 0) {
      const m = RESULT_AFTER_TEXT.exec(l);
      if (m) out.push(l.slice(m.index));
    }
  }
  return file === "xsave.flat" ? out.map(xsaveAlias) : out;
}

/**
 * x86/xsave.c's test_write_xcr0 checks that XSETBV/XGETBV ignore RCX[63:32] with the alias
 * `rdtsc() << 32` and prints it (`XGETBV(0x%lx) (i.e. XCR0) should succeed`): each side's TSC
 * (QEMU TCG: host time; exitlab: modelled cycles) gives another number, so the value is shown as
 * `TSC << 32` (its low 32 bits are zero on both sides, which the pattern checks).
 */
export function xsaveAlias(line: string): string {
  return line.replace(/^((?:PASS|FAIL): XGETBV\()0x[0-9a-f]*00000000(\) \(i\.e\. XCR0\))/, "$1TSC << 32$2");
}

/**
 * x86/vmexit.c's output as comparable lines (kvm-unit-tests x86/vmexit.c: do_test's
 * `printf("%s %d\n", name, cycles)` once a test's loop took GOAL = 2^30 TSC ticks, its
 * `  ipi NAME N` / `  eoi NAME N` lines, `NAME (skipped)`, and inl_pmtimer's `PM timer port is
 * %x` read from the ACPI FADT). The cycle counts come from each side's TSC (QEMU TCG: host time;
 * exitlab: modelled cycles), so a measurement becomes `MEASURED: NAME` (and `MEASURED: ipi NAME`):
 * the same tests measured, in order, and the same skips and PM timer port, is a match.
 */
export function vmexitLines(lines: readonly string[]): string[] {
  const out: string[] = [];
  for (const l of lines) {
    const m = /^(\s+(?:ipi|eoi) )?([A-Za-z0-9_+\-:]+) -?\d+$/.exec(l);
    if (m) out.push(`MEASURED: ${m[1] ? m[1].trim() + " " : ""}${m[2]}`);
    else if (/^\S+ \(skipped\)$/.test(l) || l.startsWith("PM timer port is ") || RESULT.test(l)) out.push(l);
  }
  return out;
}

/** One measurement line of arm/micro-bench.c (loop_test's printf: name, total ns, average ns). */
export interface Timing {
  name: string;
  totalNs: number;
  avgNs: number;
}

/** micro-bench's `%-30s%15d.%-15d%15d.%-15d` lines: name, total ns, average ns (one decimal each). */
const TIMING = /^([a-z_][a-z0-9_]*)\s+(\d+)\.(\d)\s+(\d+)\.(\d)\s*$/;

/** The measurement lines of a micro-bench run's console (none for other entries). */
export function timingLines(console: string): Timing[] {
  const out: Timing[] = [];
  for (const l of console.split("\n")) {
    const m = TIMING.exec(l.replace(/\r$/, ""));
    if (m) out.push({ name: m[1]!, totalNs: Number(`${m[2]}.${m[3]}`), avgNs: Number(`${m[4]}.${m[5]}`) });
  }
  return out;
}

/**
 * An outcome from result lines: SKIP if the test exited with the skip status (SKIP_STATUS, as
 * upstream's runner reports it, e.g. x86 smap without SMAP: "SUMMARY: 0 tests"), else FAIL if any
 * failed, PASS if any passed, SKIP if all skipped, else what ended the run.
 */
export function outcome(lines: string[], ended: string, status?: number): string {
  if (status === SKIP_STATUS) return "SKIP";
  if (lines.some((l) => /^(FAIL|XPASS|ABORT)/.test(l))) return "FAIL";
  if (lines.some((l) => /^(PASS|XFAIL)/.test(l))) return "PASS";
  if (lines.some((l) => l.startsWith("SKIP"))) return "SKIP";
  // vmexit.c's measurements (vmexitLines), to the guest's exit: every wanted test ran.
  if (ended === "NO RESULT" && lines.some((l) => l.startsWith("MEASURED: "))) return "MEASURED";
  return ended;
}

/** kvm-unit-tests' skip status (upstream scripts/runtime.bash: `elif [ $ret -eq 77 ]; then print_result "SKIP"`). */
export const SKIP_STATUS = 77;

/**
 * The test's exit status as upstream's run scripts compute it (scripts/arch-run.bash run_qemu and
 * run_qemu_status), from QEMU's process status and the console: 0 (no debug-exit: PSCI SYSTEM_OFF,
 * or QEMU ended otherwise) becomes 1, 1 (isa-debug-exit of 0: success) becomes 0; a 1 then takes
 * the console's `EXIT: STATUS=N` line when there is one (arm64's exit() prints it; N = 1 is 0).
 * x86 ends through isa-debug-exit (status (V << 1) | 1 of the byte V written), arm64 through the line.
 * undefined when the run did not end by itself (a timeout, a step limit).
 */
export function upstreamStatus(processStatus: number | undefined, console: string): number | undefined {
  if (processStatus === undefined) return undefined;
  let ret = processStatus === 0 ? 1 : processStatus === 1 ? 0 : processStatus;
  if (ret === 1) {
    const m = /^EXIT: STATUS=(\d+)/m.exec(console);
    if (m) ret = Number(m[1]) === 1 ? 0 : Number(m[1]);
  }
  return ret;
}

/** $MAX_SMP and upstream's $(( ... )) forms evaluated with MAX_SMP. */
export function smpOf(e: KutEntry): number {
  if (Number.isFinite(e.smp)) return e.smp;
  const expr = e.smpText.replace(/\$MAX_SMP/g, String(MAX_SMP)).replace(/^\$\(\((.*)\)\)$/, "$1");
  if (!/^[\d\s()<>?:+\-*]+$/.test(expr)) return MAX_SMP;
  return Number(new Function(`return (${expr});`)());
}

/** The guest RAM an entry asks QEMU for (`-m N` in its options, MiB), else the runners' default. */
export function memOf(e: KutEntry): number {
  // QEMU's -m takes MiB, or a size with a suffix (M, G).
  const m = /(?:^|\s)-m\s+(\d+)([mMgG]?)\b/.exec(e.qemuParams);
  if (!m) return EXITLAB_MEM_MIB;
  return Number(m[1]) * (/[gG]/.test(m[2]!) ? 1024 : 1);
}

/** What an entry's groups need of the machine that exitlab does not model yet (upstream's group names). */
const GROUP_NEEDS: Record<string, string> = {
  its: "GIC ITS", mte: "MTE",
  smp: "SMP", vmx: "nested VMX", svm: "nested SVM", hyperv: "Hyper-V", migration: "migration",
};

/**
 * QEMU options only KVM can run (so QEMU TCG, the reference here, refuses the entry): `-enable-kvm`
 * ("-accel kvm"), and `-cpu host` (QEMU target/i386/host-cpu.c: "CPU model 'host' requires KVM or HVF").
 */
export function kvmOnlyParams(qemuParams: string): boolean {
  return /(?:^|\s)-enable-kvm\b|(?:^|\s)-cpu\s+host\b/.test(qemuParams);
}

/** What the entry needs that exitlab's machine does not have (empty: nothing). */
export function needs(e: KutEntry, arch?: Arch): string[] {
  const out: string[] = [];
  // Both machines have SMP (up to EXITLAB_SMP vCPUs): the smp group needs nothing more.
  for (const g of e.groups) if (GROUP_NEEDS[g] && !out.includes(GROUP_NEEDS[g]!) && !(g === "smp" && arch !== undefined)) out.push(GROUP_NEEDS[g]!);
  if (smpOf(e) > EXITLAB_SMP[arch ?? "x86_64"]) out.push(`smp ${smpOf(e)}`);
  if (arch && memOf(e) > MAX_RAM_MIB[arch]) out.push(`-m ${memOf(e)} (at most ${MAX_RAM_MIB[arch]} here)`);
  if (e.accel === "kvm" || kvmOnlyParams(e.qemuParams)) out.push("KVM only");
  if (e.disabledIf) out.push("disabled off QEMU");
  return out;
}

export interface Run {
  lines: string[];
  outcome: string;
  ms: number;
  steps?: number;
  exits?: number;
  /** How the run ended when it did not power off cleanly. */
  ended: string;
  /** The test's exit status as upstream's runner computes it (upstreamStatus); absent when the run did not end by itself. */
  status?: number;
  /** micro-bench's measurements (timingLines), when it printed any. */
  timings?: Timing[];
}

/** The arm64 interrupt controller an entry asks QEMU for (`-machine gic-version=N`), else QEMU's mach-virt default, GICv2. */
export function gicOf(e: KutEntry): "v2" | "v3" {
  return /gic-version=3/.test(e.qemuParams) ? "v3" : "v2";
}

/**
 * The KVM the entries run on unless told otherwise: today's. kvm-unit-tests and QEMU are today's
 * software, and the tests mark what 2015's KVM lacked as errata (e.g. ERRATA_7b6b46311a85: the EL1
 * physical timer, which Linux v4.1 did not emulate — under `--era 2015` the timer entry prints
 * the SKIP line a 2015 host gives).
 */
export const DEFAULT_KUT_ERA = "today";

/**
 * The entry on exitlab: the binary as -kernel loads it, the test's arguments as the command line,
 * arm64's GIC as the entry's QEMU options choose it; KVM of `era` (default DEFAULT_KUT_ERA).
 */
export function runExitlab(dir: string, arch: Arch, e: KutEntry, opts: { maxSteps?: number; maxMs?: number; era?: "2015" | "today"; model?: "nvhe" | "vhe"; initrd?: string } = {}): Run {
  const image = readFileSync(join(dir, e.file));
  // QEMU's -initrd: kvm-unit-tests read it as their environment (KEY=value lines, e.g. ERRATA_...=y).
  const initrd = opts.initrd !== undefined ? { initrd: readFileSync(opts.initrd), initrdName: opts.initrd } : {};
  const t0 = performance.now();
  const deadline = t0 + (opts.maxMs ?? (e.timeout ?? DEFAULT_TIMEOUT_S) * 1000);
  const settings = { stepLimit: STEP_LIMIT_MAX, era: opts.era ?? DEFAULT_KUT_ERA, vcpus: smpOf(e), ...(arch === "arm64" ? { gic: gicOf(e), ...(opts.model ? { model: opts.model } : {}) } : {}) };
  let m: ReturnType<typeof createMachine>;
  try {
    const vendor = arch === "x86_64" ? cpuVendorOf(e.qemuParams) : undefined;
    // x86: pc-testdev as upstream's x86/run gives QEMU, and the guest's CPUID as the entry's -cpu model
    // and flags have it (runtime/x86/kvm/cpu-model.ts: every CPUID feature flag by model and flag).
    const devices = arch === "x86_64" ? { devices: EXITLAB_X86_DEVICES, cpu: cpuOf(e.qemuParams) } : {};
    m = createMachine(arch, { guest: { image, fileName: e.file, append: e.testArgs, ...initrd }, settings, memoryMiB: Math.min(memOf(e), MAX_RAM_MIB[arch]), ...devices, ...(vendor ? { cpuVendor: vendor } : {}) });
  } catch (err) {
    // A file the loader refuses (not an image of this architecture, truncated): a row, not a crash.
    if (!(err instanceof ExitlabError)) throw err;
    return { lines: [], outcome: "LOAD ERROR", ms: performance.now() - t0, ended: err.message };
  }
  // No instruction bound unless the caller sets one: the deadline (the entry's timeout) bounds the
  // run, as upstream's runner bounds QEMU by time. A fixed 2 G cap stopped micro-bench, whose
  // timer_10ms test alone waits 256 × 10 ms of modelled time (2.56 G cycles of spinning at one
  // instruction per cycle), at a step limit short of its power-off.
  const r = m.run({ maxSteps: opts.maxSteps ?? STEP_LIMIT_MAX, interrupted: () => performance.now() > deadline });
  const ms = performance.now() - t0;
  const lines = resultLines(m.console, e.file);
  const ended = r.stop === "halted" ? (/SYSTEM_OFF|debug-exit/.test(r.message ?? "") ? "powered off" : `stopped: ${r.message ?? ""}`) : r.stop === "interrupted" ? "timeout" : r.stop === "limit" ? "step limit" : r.stop;
  const timings = timingLines(m.console);
  // QEMU's process status for the same end: isa-debug-exit's (V << 1) | 1, else 0 (a power-off, a stop QEMU would also end on).
  const dev = (m as { debugExit?: unknown }).debugExit;
  const processStatus = r.stop !== "halted" ? undefined : dev instanceof DebugExit && dev.written ? dev.written.status : 0;
  const status = upstreamStatus(processStatus, m.console);
  // micro-bench prints measurements, no result lines: all of them and a clean power-off is its result.
  const none = ended === "powered off" ? (timings.length ? "MEASURED" : "NO RESULT") : ended.toUpperCase();
  return { lines, outcome: outcome(lines, none, status), ms, steps: m.steps, exits: m.exits.total, ended, ...(status !== undefined ? { status } : {}), ...(timings.length ? { timings } : {}) };
}

/**
 * The vendor string an entry's `-cpu MODEL,...,vendor=STRING` gives the guest (QEMU sets it in
 * CPUID leaf 0 through KVM_SET_CPUID2 under KVM too), or undefined: the host's. Only the vendor of
 * the CPU model is taken; exitlab's CPUID is otherwise its own (runtime/x86/kvm/cpuid.ts).
 */
export function cpuVendorOf(qemuParams: string): string | undefined {
  return /(?:^|\s)-cpu\s+\S*?,vendor=([^,\s]+)/.exec(qemuParams)?.[1];
}

const QEMU: Record<Arch, string> = { arm64: "qemu-system-aarch64", x86_64: "qemu-system-x86_64" };

/** Whether QEMU system emulation for `arch` is installed. */
export function hasQemu(arch: Arch): boolean {
  return spawnSync(QEMU[arch], ["--version"], { stdio: "ignore" }).status === 0;
}

/** The QEMU command line for an entry (upstream arm/run, x86/run under TCG); `initrd` as -initrd (upstream passes its environment file so). */
export function qemuArgs(dir: string, arch: Arch, e: KutEntry, initrd?: string): string[] {
  const common = ["-m", String(memOf(e)), "-smp", String(smpOf(e)), "-kernel", join(dir, e.file), ...(initrd !== undefined ? ["-initrd", initrd] : [])];
  // The entry's -m is in `common` already.
  const extra = e.qemuParams.replace(/(?:^|\s)-m\s+\d+[mMgG]?\b/, " ").split(/\s+/).filter(Boolean);
  const append = e.testArgs ? ["-append", e.testArgs] : [];
  // upstream's configure picks cortex-a57 for arm64 under TCG (the CPU exitlab models, MIDR_EL1 included).
  if (arch === "arm64") return ["-machine", "virt", "-cpu", "cortex-a57", "-nographic", ...common, ...extra, ...append];
  // upstream x86/run: --no-reboot (a triple fault ends QEMU, as KVM_EXIT_SHUTDOWN ends exitlab's run,
  // instead of rebooting the test), -nodefaults, its PIT option, its devices (X86_RUN_DEVICES), the serial port on stdio.
  return ["-machine", "pc,accel=tcg", "-no-reboot", "-nodefaults", "-global", "kvm-pit.lost_tick_policy=discard", ...X86_RUN_DEVICES.flatMap((d) => ["-device", d]), "-display", "none", "-serial", "stdio", ...common, ...extra, ...append];
}

/**
 * The devices upstream kvm-unit-tests' x86/run gives QEMU (its `pc_testdev` and `pci_testdev`: QEMU
 * has all three): the ISA test device, isa-debug-exit at port 0xf4, the PCI test device.
 */
export const X86_RUN_DEVICES = ["pc-testdev", "isa-debug-exit,iobase=0xf4,iosize=0x4", "pci-testdev"] as const;

/**
 * Of X86_RUN_DEVICES, those exitlab's pc machine is given as MachineOptions.devices: pc-testdev.
 * (isa-debug-exit is always on the machine; pci-testdev needs a PCI host bridge, which exitlab's x86
 * machine does not model: no x86 entry here but intel_iommu, which needs q35, looks for it.)
 */
export const EXITLAB_X86_DEVICES = ["pc-testdev"] as const;

/** The entry under QEMU TCG (stdout is the guest's console). */
export function runQemu(dir: string, arch: Arch, e: KutEntry, maxMs = (e.timeout ?? DEFAULT_TIMEOUT_S) * 1000, initrd?: string): Run {
  const t0 = performance.now();
  const r = spawnSync(QEMU[arch], qemuArgs(dir, arch, e, initrd), { encoding: "latin1", timeout: maxMs, killSignal: "SIGKILL", maxBuffer: 64 << 20 });
  const ms = performance.now() - t0;
  const lines = resultLines(r.stdout ?? "", e.file);
  const ended = r.error ? ((r.error as NodeJS.ErrnoException).code === "ETIMEDOUT" ? "timeout" : String(r.error)) : "powered off";
  const status = r.error ? undefined : upstreamStatus(r.status ?? undefined, r.stdout ?? "");
  return { lines, outcome: outcome(lines, ended === "powered off" ? "NO RESULT" : ended.toUpperCase(), status), ms, ended, ...(status !== undefined ? { status } : {}) };
}

export interface EntryResult {
  entry: KutEntry;
  needs: string[];
  exitlab: Run;
  qemu?: Run;
  /** Every result line the same, in order (undefined without QEMU). */
  match?: boolean;
}

/** The entries of `dir`'s unittests.cfg for `arch` (those upstream runs there), optionally only `names`. */
export function entriesFor(entries: KutEntry[], arch: Arch, names?: readonly string[]): KutEntry[] {
  const mine = entries.filter((e) => !e.arch || e.arch === arch || (arch === "x86_64" && e.arch === "x86_64"));
  return names ? mine.filter((e) => names.includes(e.name)) : mine;
}

/** How the runner runs the entries: KVM's era, arm64's world switch, the longest an entry may run (s, either side), an initrd for both sides (a file path). */
export interface RunChoices {
  era?: "2015" | "today";
  model?: "nvhe" | "vhe";
  timeoutS?: number;
  initrd?: string;
  /** The entry was asked for by name (--only): a `nodefault` entry runs then, as upstream's runner runs one when a group is chosen. */
  named?: boolean;
}

/**
 * One entry on exitlab and (withQemu) on QEMU, compared. An entry whose binary is not in `dir`
 * (upstream did not build it for this configuration) is a row that says so: outcome NO FILE,
 * run by neither.
 */
export function runEntry(dir: string, arch: Arch, e: KutEntry, withQemu: boolean, choices: RunChoices = {}): EntryResult {
  if (!existsSync(join(dir, e.file))) {
    const absent: Run = { lines: [], outcome: "NO FILE", ms: 0, ended: `${e.file} is not in ${dir}` };
    return { entry: e, needs: [...needs(e, arch), `${e.file} (not in the directory)`], exitlab: absent, qemu: withQemu ? absent : undefined };
  }
  if (e.groups.includes("migration")) {
    // Upstream runs these through run_migration (scripts/arch-run.bash): the test prints "Now migrate
    // the VM, then press a key to continue..." and waits while the runner moves the guest from one
    // QEMU process to another over QMP; without the means to (ncat) it returns 77, SKIP. exitlab has
    // no migration and this runner drives none for QEMU, so neither side runs it: it would only wait
    // for its timeout at that line.
    const skipped: Run = { lines: [], outcome: "SKIP", ms: 0, ended: "migration: neither exitlab nor this runner migrates a guest (upstream's run_migration skips, status 77, when it cannot)" };
    return { entry: e, needs: needs(e, arch), exitlab: skipped, qemu: withQemu ? skipped : undefined };
  }
  if (e.groups.includes("nodefault") && !choices.named) {
    // Upstream's run_tests.sh skips these unless a group is chosen (-g) or all are asked for (-a):
    // scripts/runtime.bash run(), "test marked as manual run only". Name one with --only to run it.
    const manual: Run = { lines: [], outcome: "SKIP", ms: 0, ended: "nodefault: marked as manual run only (upstream runs it with -g or -a; here with --only)" };
    return { entry: e, needs: needs(e, arch), exitlab: manual, qemu: withQemu ? manual : undefined };
  }
  const maxMs = choices.timeoutS !== undefined ? choices.timeoutS * 1000 : undefined;
  const exitlab = runExitlab(dir, arch, e, { era: choices.era, model: choices.model, maxMs, initrd: choices.initrd });
  const qemu = withQemu ? runQemu(dir, arch, e, maxMs, choices.initrd) : undefined;
  const match = qemu ? qemu.lines.length > 0 && qemu.lines.join("\n") === exitlab.lines.join("\n") : undefined;
  return { entry: e, needs: needs(e, arch), exitlab, qemu, match };
}

/** The runner's table as text: entry, what it needs, QEMU's and exitlab's outcome, match, work. */
export function resultTable(rows: EntryResult[]): string {
  const head = ["entry", "needs", "QEMU", "exitlab", "lines match", "instructions", "exits", "exitlab ms"];
  const body = rows.map((r) => [
    r.entry.name,
    r.needs.join(", ") || "-",
    r.qemu?.outcome ?? "(no QEMU)",
    r.exitlab.outcome,
    r.match === undefined ? "-" : r.match ? "yes" : "no",
    (r.exitlab.steps ?? 0).toLocaleString("en-US"),
    String(r.exitlab.exits ?? 0),
    r.exitlab.ms.toFixed(0),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => (i >= 5 ? x.padStart(w[i]!) : x.padEnd(w[i]!))).join("  ").trimEnd();
  const matched = rows.filter((r) => r.match).length;
  return [line(head), w.map((n) => "-".repeat(n)).join("  "), ...body.map(line), "", `${matched} of ${rows.length} entries print QEMU's result lines exactly`].join("\n");
}

/**
 * micro-bench's measurements as cycles of the modelled core (avg ns × MODELLED_CPU_HZ / 1e9: the
 * counter micro-bench reads derives from modelled cycles, core/clock.ts), one table per run that
 * printed any; empty when none did.
 */
export function timingTable(rows: EntryResult[], label: string): string {
  const out: string[] = [];
  for (const r of rows) {
    const t = r.exitlab.timings;
    if (!t?.length) continue;
    const body = t.map((x) => [x.name, x.avgNs.toFixed(1), Math.round((x.avgNs * MODELLED_CPU_HZ) / 1e9).toLocaleString("en-US")]);
    const head = ["operation", "avg ns", "cycles"];
    const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
    const line = (c: string[]) => c.map((x, i) => (i > 0 ? x.padStart(w[i]!) : x.padEnd(w[i]!))).join("  ");
    out.push(`${r.entry.name} on exitlab (${label}; cycles of the modelled ${MODELLED_CPU_HZ / 1e9} GHz core):`, line(head), w.map((n) => "-".repeat(n)).join("  "), ...body.map(line));
  }
  return out.join("\n");
}
