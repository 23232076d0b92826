// The real CLI: `node bin/exitlab.js ...` against the built dist/.
import { beforeAll, describe, expect, test } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("../../", import.meta.url).pathname;

function cli(args: string[], input?: string) {
  const r = spawnSync("node", ["bin/exitlab.js", ...args], { cwd: root, input, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(() => {
  // Other people's files may not typecheck yet: tsc still emits, so only check our output exists.
  spawnSync("npm", ["run", "build"], { cwd: root, encoding: "utf8", timeout: 300_000 });
  expect(existsSync(join(root, "dist/bin/cli.js"))).toBe(true);
});

const examples = readdirSync(join(root, "examples")).filter((f) => f.endsWith(".exl"));

describe("exitlab CLI", () => {
  test("--help and --version", () => {
    const h = cli(["--help"]);
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/^usage: exitlab <command>/);
    const v = cli(["--version"]);
    expect(v.out).toBe(`exitlab ${JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version}\n`);
  });

  test("the examples include both MMU-enable traces", () => {
    expect(examples).toContain("mmu-enable-x86.exl");
    expect(examples).toContain("mmu-enable-arm64.exl");
  });

  for (const f of examples) {
    test(`examples/${f} runs with every expectation met`, () => {
      const r = cli(["run", `examples/${f}`]);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^ok: /m);
    });
  }

  test("a failed expectation exits 1 with the caret format on stderr", () => {
    const r = cli(["run", "-"], "vm boot x86_64\nrun\nexpect count(exits where reason == CR_ACCESS) == 4\nshow regs\n");
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      "<stdin>: ExpectationFailed: line 3, column 8: `count(exits where reason == CR_ACCESS) == 4`: left side 3, right side 4\n" +
        "  expect count(exits where reason == CR_ACCESS) == 4\n" +
        "         ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n",
    );
    expect(r.out).not.toMatch(/registers/); // the CLI stops at the first error
  });

  test("a syntax error exits 2; check parses only", () => {
    const dir = mkdtempSync(join(tmpdir(), "exitlab-cli-"));
    writeFileSync(join(dir, "bad.exl"), "vm boot x86_64\nrun untill halt\n");
    writeFileSync(join(dir, "good.exl"), "vm boot x86_64; run\n");
    const r = cli(["run", join(dir, "bad.exl")]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/SyntaxError: line 2, column 5: unexpected `untill`/);
    expect(r.err).toMatch(/hint: did you mean `until`\?/);
    expect(cli(["check", join(dir, "bad.exl")]).code).toBe(2);
    const ok = cli(["check", join(dir, "good.exl")]);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/ok \(2 statements\)/);
  });

  test("--json and --html", () => {
    const dir = mkdtempSync(join(tmpdir(), "exitlab-cli-"));
    const html = join(dir, "r.html");
    const r = cli(["run", "-", "--json", "--html", html], "vm boot x86_64\nrun\ntable exits by reason\nchart exits by reason\n");
    expect(r.code).toBe(0);
    const results = JSON.parse(r.out) as { kind: string }[];
    expect(results.map((x) => x.kind)).toEqual(["text", "text", "table", "chart"]);
    const page = readFileSync(html, "utf8");
    expect(page).toMatch(/<table class="exitlab">/);
    expect(page).toMatch(/<svg/);
    expect(readFileSync(join(dir, "r-chart-1.svg"), "utf8")).toMatch(/^<svg/);
  });

  test("charts that compare: the summary printed, the SVG in --html with both VMs and the filter", () => {
    const dir = mkdtempSync(join(tmpdir(), "exitlab-cli-"));
    const html = join(dir, "c.html");
    const program = "vm boot x86_64 as intel\nrun\nvm boot arm64 as arm\nrun\nchart compare intel arm without console\nchart intel cycles by reason where reason != IO_INSTRUCTION\n";
    const r = cli(["run", "-", "--html", html], program);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain("intel vs arm: exits and modelled cycles by reason (without console I/O: 29 of 41 (intel), 55 of 67 (arm) exits left out): exits intel/arm: EPT_VIOLATION 6/0");
    expect(r.out).toContain("Cycles of intel by reason (where reason != IO_INSTRUCTION: 30 of 41 exits left out): EPT_VIOLATION 21900, CR_ACCESS 4650, MSR_READ 1400, MSR_WRITE 1500");
    const svg = readFileSync(join(dir, "c-chart-1.svg"), "utf8");
    for (const t of ["intel", "arm", "DABT_LOW", "EPT_VIOLATION", "modelled host cycles", "without console I/O"]) expect(svg).toContain(t);
  });

  test("a reader that stops early (| head) ends the run quietly", () => {
    // ~20,000 exits print far more than a pipe holds; head closes it after one line.
    const program = "vm boot x86_64 asm {\n movl $20000, %ecx\n1: outb %al, $0x80\n decl %ecx\n jnz 1b\n hlt\n}\ntrap io 0x80\nrun until halt\nshow trace\n";
    const r = spawnSync("sh", ["-c", "node bin/exitlab.js run - | head -1"], { cwd: root, input: program, encoding: "utf8", timeout: 60_000 });
    expect(r.stdout).toMatch(/^booted x86_64 VM/);
    expect(r.stderr).toBe("");
  });

  test("bad arguments exit 2", () => {
    expect(cli(["run"]).code).toBe(2);
    expect(cli(["run", "/nonexistent.exl"]).code).toBe(2);
    expect(cli(["frobnicate"]).code).toBe(2);
    expect(cli(["run", "x.exl", "--bogus"]).code).toBe(2);
    expect(cli(["kernel", "frob"]).code).toBe(2);
  });

  test("repl: statements, multi-line asm blocks, errors on stderr", () => {
    const r = cli(["repl"], "vm boot x86_64 asm {\n  mov $5, %ebx\n  hlt\n}\nstep until exit\nlet q = nosuch\nexpect exit.reason == EPT_VIOLATION\n");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/booted x86_64 VM/);
    expect(r.out).toMatch(/ok: exit.reason == EPT_VIOLATION/);
    expect(r.err).toMatch(/NameError: line 1, column 9: unknown name `nosuch`/);
  });
});
