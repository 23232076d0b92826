// The anchor: QEMU user mode (Debian qemu-user) running the same loops as static Linux ELF
// programs, assembled and linked with GNU binutils in a temporary directory, each run timed as a
// child process (spawnSync) with performance.now(). Process start-up is taken out by also timing
// the same program with a count of 0. Also qemu-system-aarch64 booting a kvm-unit-tests image, when
// it is installed. Nothing here throws for a missing tool: callers get the reason instead.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { AnchorTarget } from "./guests.js";

interface ToolSet {
  qemu: string[];
  as: { cmd: string[]; args: string[] }[];
  ld: { cmd: string[]; args: string[] }[];
}

/** Candidates per target, first that works wins (Debian names first). */
const TOOLS: Record<AnchorTarget, ToolSet> = {
  aarch64: {
    qemu: ["/usr/bin/qemu-aarch64", "qemu-aarch64", "qemu-aarch64-static"],
    as: [{ cmd: ["aarch64-linux-gnu-as"], args: [] }],
    ld: [{ cmd: ["aarch64-linux-gnu-ld"], args: [] }],
  },
  x86_64: {
    qemu: ["/usr/bin/qemu-x86_64", "qemu-x86_64", "qemu-x86_64-static"],
    as: [{ cmd: ["x86_64-linux-gnu-as"], args: ["--64"] }, { cmd: ["as"], args: ["--64"] }],
    ld: [{ cmd: ["x86_64-linux-gnu-ld"], args: ["-m", "elf_x86_64"] }, { cmd: ["ld"], args: ["-m", "elf_x86_64"] }],
  },
  i386: {
    qemu: ["/usr/bin/qemu-i386", "qemu-i386", "qemu-i386-static"],
    as: [{ cmd: ["x86_64-linux-gnu-as"], args: ["--32"] }, { cmd: ["as"], args: ["--32"] }],
    ld: [{ cmd: ["x86_64-linux-gnu-ld"], args: ["-m", "elf_i386"] }, { cmd: ["ld"], args: ["-m", "elf_i386"] }],
  },
};

const runs = (cmd: string): boolean => {
  const r = spawnSync(cmd, ["--version"], { stdio: "ignore", timeout: 10_000 });
  return r.status === 0;
};

export interface Resolved {
  qemu: string;
  as: string[];
  ld: string[];
}

/** A built program: `elf` runs the loop `n` times, `empty` is the same program with a count of 0. */
export interface AnchorProgram {
  target: AnchorTarget;
  qemu: string;
  elf: string;
  empty: string;
  /** Loop iterations of `elf`. */
  n: number;
}

export interface AnchorTimes {
  /** Wall-clock ms of one run of the loop program and of the empty one. */
  full: number;
  empty: number;
}

/** Builds anchor programs in a temporary directory (removed by dispose()). */
export class AnchorLab {
  private readonly dir = mkdtempSync(join(tmpdir(), "exitlab-anchor-"));
  private readonly resolved = new Map<AnchorTarget, Resolved | string>();
  private serial = 0;

  /** The tools for `target`, or why they are missing. */
  tools(target: AnchorTarget): Resolved | string {
    let r = this.resolved.get(target);
    if (r === undefined) {
      const t = TOOLS[target];
      const qemu = t.qemu.find((c) => (c.startsWith("/") ? existsSync(c) : true) && runs(c));
      const as = t.as.find((c) => runs(c.cmd[0]!));
      const ld = t.ld.find((c) => runs(c.cmd[0]!));
      if (!qemu) r = `qemu-${target} not installed`;
      else if (!as || !ld) r = `binutils for ${target} not installed (${t.as.map((c) => c.cmd[0]).join(" / ")})`;
      else r = { qemu, as: [...as.cmd, ...as.args], ld: [...ld.cmd, ...ld.args] };
      this.resolved.set(target, r);
    }
    return r;
  }

  /** Assemble and link `source` into a static ELF; returns its path. */
  buildElf(target: AnchorTarget, source: string): string {
    const tools = this.tools(target);
    if (typeof tools === "string") throw new Error(tools);
    const base = join(this.dir, `p${this.serial++}-${target}`);
    writeFileSync(`${base}.s`, source);
    const step = (argv: string[]) => {
      const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", timeout: 60_000 });
      if (r.status !== 0) throw new Error(`${argv.join(" ")}: ${(r.stderr || r.error?.message || "").trim()}`);
    };
    step([...tools.as, "-o", `${base}.o`, `${base}.s`]);
    step([...tools.ld, "-static", "-o", base, `${base}.o`]);
    return base;
  }

  /** Build the pair (count n, count 0) of a loop program from a source generator. */
  program(target: AnchorTarget, n: number, source: (n: number) => string): AnchorProgram {
    const tools = this.tools(target);
    if (typeof tools === "string") throw new Error(tools);
    const p: AnchorProgram = { target, qemu: tools.qemu, elf: this.buildElf(target, source(n)), empty: this.buildElf(target, source(0)), n };
    runElf(p.qemu, p.empty); // a first run pays for page cache and dynamic loading of qemu itself
    return p;
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Wall-clock ms of `qemu elf` as a child process; throws unless it exits with status 0. */
export function runElf(qemu: string, elf: string): number {
  const t0 = performance.now();
  const r = spawnSync(qemu, [elf], { stdio: "ignore", timeout: 300_000 });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${qemu} ${elf}: status ${r.status}${r.signal ? ` (${r.signal})` : ""}${r.error ? ` ${r.error.message}` : ""}`);
  return ms;
}

/** One round of the anchor: the loop program, then the empty one. */
export function timeProgram(p: AnchorProgram): AnchorTimes {
  const full = runElf(p.qemu, p.elf);
  const empty = runElf(p.qemu, p.empty);
  return { full, empty };
}

// ---- qemu-system-aarch64 booting a kvm-unit-tests image ----

export interface SystemBoot {
  /** ms from spawning QEMU to the first stdout line beginning with PASS. */
  msToPass?: number;
  outcome: string;
}

const SYSTEM_QEMU = ["qemu-system-aarch64"];

/** The command, or undefined when qemu-system-aarch64 is not installed. */
export function systemQemu(): string | undefined {
  return SYSTEM_QEMU.find(runs);
}

/** Boot `file` as kvm-unit-tests' arm/run does (TCG, -cpu max) and time the first PASS line. */
export function bootSystemQemu(qemu: string, file: string, append: string, timeoutMs = 60_000): Promise<SystemBoot> {
    // As kvm-unit-tests' arm/run starts it (TCG): no default devices, the PL011 on stdout.
  const args = ["-nodefaults", "-machine", "virt", "-cpu", "max", "-m", "128", "-smp", "1", "-display", "none", "-serial", "stdio", "-kernel", file, "-append", append];
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(qemu, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let done = false;
    const finish = (r: SystemBoot) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill("SIGKILL");
      resolve(r);
    };
    const timer = setTimeout(() => finish({ outcome: `no PASS line within ${timeoutMs} ms` }), timeoutMs);
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      out += chunk;
      const line = out.split(/\r?\n/).slice(0, -1).find((l) => l.startsWith("PASS"));
      if (line !== undefined) finish({ msToPass: performance.now() - t0, outcome: line.trim() });
    });
    child.stderr.resume();
    child.on("error", (e) => finish({ outcome: `could not start: ${e.message}` }));
    child.on("exit", (code) => finish({ outcome: `exited (status ${code}) before any PASS line` }));
  });
}
