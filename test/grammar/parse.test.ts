import { describe, expect, test } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { parse, parseWithCount, ExitlabSyntaxError } from "../../grammar/parse.js";
import { tokenize } from "../../grammar/lexer.js";
import { editDistance, didYouMean } from "../../grammar/words.js";
import { STATEMENT_DOCS } from "../../lab/help.js";
import type { Statement } from "../../grammar/ast.js";

/** One example of every statement form (and the expression forms). */
const FORMS: [string, Statement["type"]][] = [
  ["vm boot x86_64", "vmBoot"],
  ["vm boot", "vmBoot"],
  ["vm boot as b", "vmBoot"],
  ["vm boot asm arm64 { hvc #0 }", "vmBoot"],
  ["vm boot arm64 guest boot as a", "vmBoot"],
  ['vm boot x86_64 guest "boot"', "vmBoot"],
  ['vm boot x86_64 from "guest.s" as g', "vmBoot"],
  ["vm boot arm64 asm arm64 {\n  mov x0, #1\n  hvc #0\n} as inline", "vmBoot"],
  ["vm boot x86_64 asm { hlt }", "vmBoot"],
  ["use a", "use"],
  ["trap cr0", "trap"],
  ["trap msr 0xc0000080", "trap"],
  ["trap sysreg sctlr_el1", "trap"],
  ["untrap cr3", "trap"],
  ["trap exception 14", "trap"],
  ["step", "step"],
  ["step 10", "step"],
  ["step until exit", "step"],
  ["step until pc == 0x400196", "step"],
  ["step until exit.reason == CR_ACCESS", "step"],
  ["handle", "handle"],
  ["run", "run"],
  ["run until halt", "run"],
  ["run until rax == 1 limit 1_000", "run"],
  ["run limit 100", "run"],
  ["show regs", "show"],
  ["show exit", "show"],
  ["show vmcs guest", "show"],
  ["show vmcs exit", "show"],
  ["show vmcs exit_info", "show"],
  ["show mem 0x40080000 64", "show"],
  ["show disasm", "show"],
  ["show disasm pc 4", "show"],
  ["show trace", "show"],
  ["show trace last 10", "show"],
  ["show exits", "show"],
  ["table exits by reason", "table"],
  ["table exits", "table"],
  ["table host by reason", "table"],
  ["chart exits by reason", "chart"],
  ["chart exits over time", "chart"],
  ["chart cycles by reason", "chart"],
  ["chart intel cycles over time", "chart"],
  ["chart intel exits by reason where reason != IO_INSTRUCTION", "chart"],
  ["chart host by reason without console", "chart"],
  ["chart exits by reason where reason != DABT_LOW without console", "chart"],
  ["chart compare intel arm", "chart"],
  ["chart compare kvm2015 kvm_today without console", "chart"],
  ["compare intel arm", "compare"],
  ["let n = count(exits where reason == EPT_VIOLATION && qual.write == 1)", "let"],
  ["let x = -(1 + 2) * 3 / 4 % 5 << 1 >> 1 & 0xff | 0b1 ^ ~0", "let"],
  ['expect n == 2, "two faults"', "expect"],
  ["expect !(esr.iss.srt != 3) || vmcs.exit_qualification >= 1", "expect"],
  ["expect exits[0].qual.cr == 4", "expect"],
  ["expect first(exits where reason == SYS64) < first(exits where reason == HVC64)", "expect"],
  ["set steplimit 5000", "set"],
  ["set kvm today", "set"],
  ["set granule 64k", "set"],
  ["set pair_mmio on", "set"],
  ["set arch arm64", "set"],
  ["set kvm today for intel", "set"],
  ["1 + 2", "value"],
  ["exit.esr", "value"],
  ["count(exits where reason == CR_ACCESS)", "value"],
  ["rax", "value"],
  ["-1", "value"],
  ['print "hello, world"', "print"],
  ["print", "print"],
  ['print "n =", count(exits), exit.pc', "print"],
  ['save trace "out.trace"', "saveTrace"],
  ['load trace "host.trace" as host', "loadTrace"],
  ["help", "help"],
  ["help trap", "help"],
  ["help exit", "help"],
];

describe("one parse per program", () => {
  test.each(FORMS)("%s", (src, type) => {
    const { program, parses } = parseWithCount(src);
    expect(parses).toBe(1);
    expect(program.statements).toHaveLength(1);
    expect(program.statements[0]!.type).toBe(type);
  });

  test("all forms together, separated by newlines, semicolons, comments and blank lines", () => {
    const src = "# start\n\n" + FORMS.map(([s], i) => (i % 3 === 0 ? `${s}; ` : `${s} // c${i}\n`)).join("") + "\n\n";
    const { program, parses } = parseWithCount(src);
    expect(parses).toBe(1);
    expect(program.statements).toHaveLength(FORMS.length);
  });

  test("every example program and every help example", () => {
    const dir = new URL("../../examples/", import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith(".exl"));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(parseWithCount(readFileSync(new URL(f, dir), "utf8")).parses, f).toBe(1);
    for (const d of STATEMENT_DOCS) expect(parseWithCount(d.example).parses, d.example).toBe(1);
  });

  test("empty programs", () => {
    expect(parse("").statements).toEqual([]);
    expect(parse("\n;\n# nothing\n").statements).toEqual([]);
  });
});

describe("AST", () => {
  test("keywords are case-insensitive; positions on nodes", () => {
    const [s] = parse("\n  VM Boot X86_64 AS Intel").statements;
    expect(s).toMatchObject({ type: "vmBoot", arch: { text: "X86_64" }, name: { text: "Intel" } });
    expect(s!.pos).toMatchObject({ line: 2, col: 3, offset: 3 });
    expect(s!.type === "vmBoot" && s!.name!.pos).toMatchObject({ line: 2, col: 21 });
  });

  test("numbers: hex, binary, underscores, k suffix", () => {
    const [s] = parse("let x = 0xFFFF_0000 + 0b1010 + 1_000 + 64k").statements;
    const e = s!.type === "let" ? s!.value : null;
    const nums: bigint[] = [];
    const walk = (x: typeof e): void => {
      if (!x) return;
      if (x.type === "number") nums.push(x.value);
      if (x.type === "binary") (walk(x.left), walk(x.right));
    };
    walk(e);
    expect(nums).toEqual([0xffff0000n, 10n, 1000n, 65536n]);
  });

  test("precedence: & binds tighter than ==, && tighter than ||", () => {
    const [s] = parse("expect a & 1 == 1 || b && c").statements;
    expect(s!.type === "expect" && s!.cond).toMatchObject({ op: "||", left: { op: "==", left: { op: "&" } }, right: { op: "&&" } });
  });

  test("asm block keeps its body, braces nest", () => {
    const [s] = parse("vm boot arm64 asm {\n ld1 {v0.16b}, [x0]\n}").statements;
    expect(s!.type === "vmBoot" && s!.guest).toMatchObject({ type: "asm", body: "\n ld1 {v0.16b}, [x0]\n" });
  });

  test("strings decode escapes", () => {
    const [s] = parse('expect 1, "a \\"q\\" b"').statements;
    expect(s!.type === "expect" && s!.message).toBe('a "q" b');
  });
});

function syntaxError(src: string): ExitlabSyntaxError {
  try {
    parse(src);
  } catch (e) {
    if (e instanceof ExitlabSyntaxError) return e;
    throw e;
  }
  throw new Error("no error for " + src);
}

describe("syntax errors", () => {
  test("misspelled statement keyword: position, words, did-you-mean", () => {
    const e = syntaxError("vm boot x86_64\nstpe 5");
    expect(e.message).toBe("unexpected `stpe`: expected a statement (vm, use, trap, untrap, step, handle, run, show, table, chart, compare, let, expect, set, save, load, help, print, decode, irq, ipi, vcpu, stat, sql) or an expression");
    expect(e.pos).toMatchObject({ line: 2, col: 1 });
    expect(e.hint).toBe("did you mean `step`?");
  });

  test("a malformed number is a SyntaxError at the number", () => {
    const e = syntaxError("let a = 1\nlet b = 0x_");
    expect(e.message).toBe("the number `0x_` has no digits");
    expect(e.pos).toMatchObject({ line: 2, col: 9, offset: 18, end: 21 });
    expect(e.hint).toMatch(/`_` only separates digits/);
    for (const bad of ["0x", "0xg1", "12ab", "0b_"]) {
      const b = syntaxError(`let c = ${bad} + 1`);
      expect(b.pos, bad).toMatchObject({ line: 1, col: 9, end: 8 + bad.length });
      expect(b.message, bad).toMatch(new RegExp("`" + bad + "`"));
    }
  });

  test("the card's line: `vm boot; trap cr0; step until exit`", () => {
    const { program, parses } = parseWithCount("vm boot; trap cr0; step until exit");
    expect(parses).toBe(1);
    expect(program.statements.map((x) => x.type)).toEqual(["vmBoot", "trap", "step"]);
    expect(program.statements[0]).toMatchObject({ arch: null, guest: null, name: null });
  });

  test("a bare word at the start of a statement is an expression; `print` lists values", () => {
    expect(parse("n").statements[0]).toMatchObject({ type: "value", expr: { type: "name", path: ["n"] } });
    const [p] = parse('print "a", 1 + 2').statements;
    expect(p!.type === "print" && p!.items.map((i) => i.type)).toEqual(["string", "binary"]);
    const [f] = parse("set kvm today for old").statements;
    expect(f!.type === "set" && f!.vm).toMatchObject({ text: "old" });
  });

  test("a number past 64 bits", () => {
    const e = syntaxError("let a = 1\nlet b = 0x1_0000_0000_0000_0000");
    expect(e.message).toBe("the number `0x1_0000_0000_0000_0000` does not fit in 64 bits");
    expect(e.pos).toMatchObject({ line: 2, col: 9 });
    expect(e.hint).toMatch(/at most 0xffff_ffff_ffff_ffff/);
    expect(parse("let b = 0xffff_ffff_ffff_ffff").statements).toHaveLength(1);
  });

  test("misspelled keyword inside a statement", () => {
    const e = syntaxError("vm bot x86_64");
    expect(e.message).toBe("unexpected `bot`: expected `boot`");
    expect(e.hint).toBe("did you mean `boot`?");
  });

  test("incomplete expression names what may follow, in words", () => {
    const e = syntaxError("let x = ");
    expect(e.message).toBe("the program ends too early: expected a number, a string, a name, `!`, `-`, `~`, `exit`, `exits`, `count` or `(`");
    expect(e.message).not.toMatch(/kw_|%/);
  });

  test("words in fixed places are described by what they are", () => {
    expect(syntaxError("trap\nstep").message).toBe("unexpected end of line: expected a trap kind (x86_64: cr0, cr3, cr4, cr8, msr, io, hlt, cpuid, rdtsc, invlpg, dr, wbinvd, desc, exception; arm64: sysreg, tvm, trvm, wfi, wfe, hvc, smc, setway, acr, id, tlb)");
    expect(syntaxError("vm boot 5").message).toBe("unexpected number 5: expected an architecture (arm64 or x86_64), `guest`, `from`, `asm`, `image`, `multiboot` or `bzimage`, `as` or the end of the statement");
    expect(syntaxError("set").message).toBe("the program ends too early: expected a setting (arch, steplimit, era, kvm, granule, pair_mmio, gic, model, apicv, vcpus, quantum, jit, exitcap, tracecap)");
    expect(syntaxError("show 5").message).toBe("unexpected number 5: expected what to show (regs, exit, vmcs, esr, sysregs, mem, disasm, trace, console, exits)");
  });

  test("keywords cannot be names", () => {
    const e = syntaxError("let exit = 1");
    expect(e.hint).toBe("`exit` is a keyword and cannot be used as a name");
  });

  test("lexer errors", () => {
    expect(syntaxError("let x = 1 @ 2").message).toBe("unexpected character `@`");
    expect(syntaxError('expect 1, "open').message).toMatch(/^unterminated string/);
    expect(syntaxError("vm boot arm64 asm {\n mov x0, #1\n").message).toMatch(/^unclosed `\{`/);
    expect(syntaxError("}").message).toMatch(/^unexpected `\}`/);
  });

  test("bare `exit` is not an expression (one parse for `step until exit`)", () => {
    expect(syntaxError("let x = exit").message).toMatch(/expected `\.`/);
    expect(syntaxError("let x = exit").hint).toBeUndefined();
    // On its own it is what leaves the REPL: the hint says so.
    for (const src of ["exit", "exit\n", "vm boot; exit; run"]) expect(syntaxError(src).hint, src).toMatch(/^`exit` \(or `quit`\) on its own leaves the REPL/);
  });
});

describe("lexer and words", () => {
  test("comments are dropped, newlines kept as separators", () => {
    expect(tokenize("step # c\nstep // d").map((t) => t.type)).toEqual(["kw_step", "nl", "kw_step"]);
  });

  test("Damerau-Levenshtein counts a transposition as one edit", () => {
    expect(editDistance("stpe", "step")).toBe(1);
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(didYouMean("EPT_VIOLATOIN", ["EPT_VIOLATION", "EPT_MISCONFIG", "CR_ACCESS"])).toEqual(["EPT_VIOLATION"]);
    expect(didYouMean("zzz", ["step"])).toEqual([]);
  });
});
