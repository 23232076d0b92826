// Issue 19 through the CLI process: Ctrl-C stops `exitlab run`, large programs and tables do not
// crash it, a huge bad line does not echo itself. Each test failed before its fix.

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";

const root = new URL("../../", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "exitlab-limits-"));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function cli(args: string[]) {
  const r = spawnSync("node", ["bin/exitlab.js", ...args], { cwd: root, encoding: "utf8", timeout: 120_000, maxBuffer: 1 << 30 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("exitlab run under abuse", () => {
  test("SIGINT stops a run at an instruction boundary with Interrupted (status 1)", async () => {
    const prog = file("spin.exl", "set steplimit 1000000000000\nvm boot x86_64 asm {\n1: jmp 1b\n}\nrun\nprint \"not reached\"\n");
    const p = spawn("node", ["bin/exitlab.js", "run", prog], { cwd: root });
    let err = "", out = "";
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => p.on("close", (code) => r(code)));
    try {
      // Until the statement before `run` has printed (the CLI's start-up alone takes about a second
      // of CPU: a fixed CPU budget could end before `run` began), then a further 0.3 s of CPU time
      // (proc(5) stat: utime + stime in ticks), so the signal arrives during `run` however loaded
      // the machine is.
      const cpu = () => readFileSync(`/proc/${p.pid}/stat`, "utf8").split(") ")[1]!.split(" ").slice(11, 13).reduce((a, b) => a + Number(b), 0);
      for (const t0 = Date.now(); !out.includes("booted x86_64 VM") && Date.now() - t0 < 60_000; ) await new Promise((r) => setTimeout(r, 50));
      const booted = cpu();
      for (const t0 = Date.now(); cpu() < booted + 30 && Date.now() - t0 < 60_000; ) await new Promise((r) => setTimeout(r, 50));
      const t0 = Date.now();
      p.kill("SIGINT");
      const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r("still running"), 10_000))]);
      expect(code).toBe(1);
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(err).toMatch(/spin\.exl: Interrupted: line 5, column 1: interrupted after \d+ instructions at pc 0x400000; the VM is kept as it stopped\n/);
    } finally {
      p.kill("SIGKILL");
    }
  }, 90_000);

  test("50,000 statements (700 KB) run", () => {
    const prog = file("many.exl", Array.from({ length: 50_000 }, (_, i) => `let a${i % 10} = ${i}`).join("\n") + "\nprint a9\n");
    const r = cli(["run", prog]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out.endsWith("49999\n")).toBe(true);
  }, 120_000);

  test("a 50 MB bad line is refused with a few lines of error text", () => {
    const prog = file("huge.exl", "print " + "x".repeat(50 * 1024 * 1024) + " y\n");
    const r = cli(["run", prog]);
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err.length).toBeLessThan(1000);
    expect(r.err).toMatch(/^.*huge\.exl: SyntaxError: line 1, column 1048577: the program is 52428809 characters long: at most 1048576 are read at once\n {2}…x+…\n {2} +\^\nhint: split it into smaller cells or files\n$/);
  }, 60_000);

  test("a table of 250,000 exits prints", () => {
    const prog = file("table.exl", "set steplimit 10000000\nvm boot x86_64 asm {\n  mov $250000, %r8\nl: cpuid\n  dec %r8\n  jnz l\n  hlt\n}\nrun\ntable exits\n");
    const r = cli(["run", prog]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const lines = r.out.split("\n");
    expect(lines.filter((l) => /\bCPUID\b/.test(l)).length).toBe(250_000);
  }, 120_000);
});
