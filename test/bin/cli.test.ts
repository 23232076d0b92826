// The real CLI: `node bin/exitlab.js ...` against the built dist/.
import { beforeAll, describe, expect, test } from "vitest";
import { spawn, spawnSync } from "node:child_process";
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

  test("set steplimit stops a 16 Mi rep stosb between iterations (issue 14; SDM Vol. 2 REP: interruptible, RIP on the instruction)", () => {
    const guest = "vm boot x86_64 asm mode 32 {\n  movl $0x1000000, %ecx\n  movl $0x1000000, %edi\n  xorl %eax, %eax\n  rep stosb\n  hlt\n}\nset steplimit 1000\nrun\n";
    const r = cli(["repl"], guest + "expect ecx == 0x1000000 - 994\nexpect rip == 0x40000c\n");
    // 1000 = 3 handled exits (EPT violations) + 3 instructions + 994 iterations of rep stosb at 0x40000c.
    expect(r.err).toMatch(/step limit of 1000 reached at pc 0x40000c \(997 instructions this statement\)/);
    expect(r.out).toMatch(/ok: ecx == 0x1000000 - 994/);
    expect(r.out).toMatch(/ok: rip == 0x40000c/);
  });

  test("the card's line runs as written and stops at the first exit", () => {
    const r = cli(["run", "-"], "vm boot; trap cr0; step until exit\n");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      "booted x86_64 VM `x86_64` (guest boot), pc 0x400000\n" +
        "CR0_GUEST_HOST_MASK = 0xffffffffffffffff: MOV to CR0 exits whenever it changes a bit from CR0_READ_SHADOW\n" +
        "stepped 0 instructions: exit #0 EPT_VIOLATION at 0x400000 (pending: `handle` it or `run`)\n",
    );
  });

  test("the README's exitlab examples run through the CLI, the card's line among them", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const blocks = [...readme.matchAll(/^```exitlab\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    expect(blocks.some((b) => b.startsWith("vm boot; trap cr0; step until exit\n"))).toBe(true);
    for (const b of blocks) {
      const r = cli(["run", "-"], b);
      expect(r.err, b).toBe("");
      expect(r.code, b).toBe(0);
    }
  });

  test("values and print on the command line: hex for hardware state, decimal for counts", () => {
    const r = cli(["run", "-"], 'vm boot x86_64; step until exit\nexit.exit_qualification\nlet q = exit.exit_qualification\nrun\nlet n = count(exits)\nprint "hello, world", n, q\n');
    expect(r.code).toBe(0);
    expect(r.out.split("\n").slice(2)).toEqual(["0x184", "q = 0x184", expect.stringMatching(/^ran 173 instructions \(KVM handled 41 exits, emulating 35 instructions\)/), "n = 41", "hello, world 41 0x184", ""]);
  });

  test("repl: a value is echoed; `exit` and `quit` leave, what follows them does not run", () => {
    for (const leave of ["exit", "quit"]) {
      const r = cli(["repl"], `1+2\nlet n = 5\nn * 2\n${leave}\nprint "after"\n`);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/exitlab> 3\n/);
      expect(r.out).toMatch(/exitlab> 10\n/);
      expect(r.out).not.toMatch(/after/);
      expect(r.err).toBe("");
    }
  });

  test("repl: Ctrl-C stops a runaway run with the VM intact; twice at an empty prompt leaves", async () => {
    const p = spawn("node", ["bin/exitlab.js", "repl"], { cwd: root });
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((res) => p.on("exit", (code) => res(code)));
    const until = (re: RegExp) =>
      new Promise<void>((res, rej) => {
        const t0 = Date.now();
        const t = setInterval(() => {
          if (re.test(out + err)) (clearInterval(t), res());
          else if (Date.now() - t0 > 30_000) (clearInterval(t), rej(new Error(`no ${re} in:\n${out}\n${err}`)));
        }, 20);
      });
    try {
      p.stdin.write("vm boot x86_64 asm {\n1: jmp 1b\n}\n");
      await until(/booted x86_64 VM/);
      // Far more instructions than the test waits for: only Ctrl-C ends this run.
      p.stdin.write("run limit 1_000_000_000_000\n");
      await new Promise((r) => setTimeout(r, 700));
      const t0 = Date.now();
      p.kill("SIGINT");
      await until(/Interrupted: line 1, column 1: interrupted after \d+ instructions at pc 0x400000; the VM is kept as it stopped/);
      expect(Date.now() - t0).toBeLessThan(5000);
      // The session and its VM are intact: the REPL answers, the guest is where it stopped.
      p.stdin.write("rip\nprint \"still here\"\n");
      await until(/still here/);
      expect(out).toMatch(/exitlab> 0x400000\n/);
      // At an idle prompt, the first Ctrl-C says how to leave, the second leaves.
      p.kill("SIGINT");
      await until(/to leave, press Ctrl-C again/);
      p.kill("SIGINT");
      expect(await exited).toBe(0);
    } finally {
      p.kill("SIGKILL");
    }
  }, 60_000);
});

// Trace text through the CLI, as a host prints it (issue 14): today's kvm_exit puts the
// IDT-vectoring info in info2 (vmx_get_exit_info), the #UD intercept traces kvm_emulate_insn
// (handle_ud → x86_decode_emulated_instruction) before #UD is re-injected, and a VM stopped by a
// failed KVM_RUN ends with the kvm_userspace_exit line (v4.1 io_mem_abort: -ENOSYS → "error (38)";
// today KVM_EXIT_ARM_NISV, 28, in kvm_trace_exit_reason).
describe("trace text through the CLI", () => {
  const script = (era: string) => `set kvm ${era}
vm boot x86_64 asm mode 32 {
    ud2
} as ud
run until halt
show trace
vm boot arm64 asm {
    ldr x0, =0x09000000
    stp w1, w2, [x0]
} as nisv
run until halt
show trace last 1
`;

  test("kvm today: info2 is the IDT-vectoring info, ud2 is decoded, NISV reaches the VMM", () => {
    const r = cli(["run", "-"], script("today"));
    expect(r.err).toBe("");
    const lines = r.out.split("\n");
    expect(lines).toContain("kvm_exit: vcpu 0 reason EXCEPTION_NMI rip 0x400000 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x80000306 error_code 0x00000000");
    const i = lines.indexOf("kvm_emulate_insn: 0:400000:0f 0b (prot32)");
    expect(i).toBeGreaterThan(0);
    expect(lines[i + 1]).toBe("kvm_inj_exception: #UD");
    expect(lines.at(-2)).toBe("kvm_userspace_exit: reason KVM_EXIT_ARM_NISV (28)");
  });

  test("kvm 2015: info2 is the VM-exit interruption info; KVM_RUN fails with -ENOSYS", () => {
    const r = cli(["run", "-"], script("2015"));
    expect(r.err).toBe("");
    const lines = r.out.split("\n");
    expect(lines).toContain("kvm_exit: reason EXCEPTION_NMI rip 0x400000 info 0 80000306");
    expect(lines).toContain("kvm_emulate_insn: 0:400000:0f 0b (prot32)");
    expect(lines.at(-2)).toBe("kvm_userspace_exit: reason error (38)");
  });
});
