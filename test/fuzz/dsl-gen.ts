// Generators of exitlab programs for the fuzzers: grammar-driven (statements built from the
// language's own forms, with small limits so each program runs in milliseconds) and
// mutation-driven (seed programs with characters and tokens deleted, inserted and swapped).

import fc from "fast-check";

const REASONS_X86 = ["CR_ACCESS", "EPT_VIOLATION", "CPUID", "MSR_WRITE", "IO_INSTRUCTION", "HLT"];
const REASONS_ARM = ["HVC64", "DABT_LOW", "SYS64", "WFx", "IABT_LOW"];
const REGS = ["rip", "rax", "rcx", "cr0", "cr3", "x0", "x1", "pc", "sp", "sctlr_el1", "esr_el2"];

const number = fc.oneof(
  fc.nat({ max: 100 }).map(String),
  fc.constantFrom("0", "1", "0x3f8", "0xc0000080", "0xffff_ffff_ffff_ffff", "0b101", "18446744073709551616", "0x", "1_000"),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((b) => "0x" + b.toString(16)),
);

/** Expressions over numbers, registers, exit fields, counts and variables. */
const expr: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
  e: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    number,
    fc.constantFrom(...REGS, ...REASONS_X86, ...REASONS_ARM, "v", "w", "nope"),
    fc.constantFrom("exit.reason", "exit.pc", "exit.exit_qualification", "exit.esr", "esr.iss.srt", "qual.cr", "vmcs.GUEST_RIP", "exits[0].pc", "exits[99999].reason", "count(exits)", '"text"'),
    fc.tuple(fc.constantFrom(...REASONS_X86, ...REASONS_ARM)).map(([r]) => `count(exits where reason == ${r})`),
    fc.tuple(tie("e")).map(([a]) => `first(exits where ${a})`),
    fc.tuple(tie("e")).map(([a]) => `count(exits where ${a})`),
    fc.tuple(fc.constantFrom("-", "~", "!"), tie("e")).map(([op, a]) => `${op}${a}`),
    fc.tuple(tie("e"), fc.constantFrom("+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", "==", "!=", "<", "<=", ">", ">=", "&&", "||"), tie("e")).map(([a, op, b]) => `${a} ${op} ${b}`),
    fc.tuple(tie("e")).map(([a]) => `(${a})`),
  ),
})).e;

const X86_ASM = ["l: cpuid\n  jmp l", "  mov $0x3f8, %dx\n  mov $65, %al\n  out %al, %dx\n  hlt", "  mov %cr0, %rax\n  mov %rax, %cr0\n  hlt", "1: jmp 1b", "  wrmsr\n  hlt", "  ud2", "  mov (%rax), %rbx\n  hlt", "  .byte 0x0f, 0x0b"];
const ARM_ASM = ["l: hvc #0\n  b l", "  wfi\n  b .", "  mrs x0, sctlr_el1\n  msr sctlr_el1, x0\n  hvc #0", "  movz x1, #0x0900, lsl #16\n  str w2, [x1]\n  hvc #0", "  ldr x0, [x1]\n  b .", "  .inst 0"];

const vmBoot = fc.oneof(
  fc.tuple(fc.constantFrom("x86_64", "arm64", ""), fc.constantFrom("", " as a", " as b")).map(([a, n]) => `vm boot ${a}${n}`),
  fc.tuple(fc.constantFrom(...X86_ASM), fc.constantFrom("", " mode 32", " mode 16")).map(([s, m]) => `vm boot x86_64 asm${m} {\n${s}\n}`),
  fc.constantFrom(...ARM_ASM).map((s) => `vm boot arm64 asm {\n${s}\n}`),
  fc.constantFrom('vm boot x86_64 guest nope', 'vm boot arm64 from "no-such-file.s"', 'vm boot arm64 image "no-such-image"', "vm boot sparc"),
);

const statement: fc.Arbitrary<string> = fc.oneof(
  vmBoot,
  fc.constantFrom("trap cr0", "trap cr3", "trap msr 0xc0000080", "trap io 0x3f8", "trap hlt", "trap cpuid", "trap sysreg sctlr_el1", "trap tvm", "trap wfi", "trap hvc", "untrap cr0", "trap exception 14", "trap frob", "untrap cpuid"),
  fc.nat({ max: 300 }).map((n) => `step ${n}`),
  fc.constantFrom("step", "step until exit", "handle", "run", "run until halt"),
  fc.tuple(expr).map(([e]) => `step until ${e}`),
  fc.tuple(fc.constantFrom(...REASONS_X86, ...REASONS_ARM), fc.integer({ min: 0, max: 20_000 })).map(([r, n]) => `run until exit.reason == ${r} limit ${n}`),
  fc.integer({ min: 0, max: 20_000 }).map((n) => `run limit ${n}`),
  fc.constantFrom("show regs", "show exit", "show vmcs", "show esr", "show sysregs", "show mem 0x400000 16", "show disasm", "show trace last 5", "show console", "show exits", "show controls", "show hcr", "show stats", "show dtb"),
  fc.constantFrom("table exits", "table exits by reason", "chart exits by reason", "chart cycles over time", "compare a b", "table nope"),
  fc.tuple(fc.constantFrom("v", "w"), expr).map(([n, e]) => `let ${n} = ${e}`),
  fc.tuple(expr).map(([e]) => `expect ${e}`),
  fc.tuple(expr, expr).map(([a, b]) => `print ${a}, ${b}`),
  expr,
  fc.constantFrom("set steplimit 50000", "set era today", "set kvm 2015", "set jit off", "set jit on", "set exitcap 3", "set tracecap 5", "set granule 4k", "set arch arm64", "set pair_mmio on", "use a", "use nope"),
  fc.constantFrom("help", "help trap", "help CR_ACCESS", "help 0x31", "decode esr 0x92000045", "decode hcr 0x80000000", "decode qual cr 0x184", "decode intr 0x80000b0e", "decode vmcs PIN_BASED_VM_EXEC_CONTROL 0x16"),
  fc.constantFrom('load trace "no-such.trace" as t', "exit", "{", "}", "asm {", "((", "exits[", "0x", "\"open"),
);

/** A program of 1–8 statements, separated by newlines or `;`, under a small step limit. */
export const dslProgram: fc.Arbitrary<string> = fc
  .tuple(fc.array(fc.tuple(statement, fc.constantFrom("\n", "\n", "; ")), { minLength: 1, maxLength: 8 }))
  .map(([parts]) => "set steplimit 20000\n" + parts.map(([s, sep]) => s + sep).join(""));

/** Programs the mutations start from: the examples' shape in small (each runs in milliseconds). */
export const SEEDS = [
  "vm boot; trap cr0; step until exit\nexit.exit_qualification\nrun\ncount(exits where reason == CR_ACCESS)\nprint \"exits:\", count(exits), \"last pc\", exits[3].pc",
  "vm boot arm64 as arm\ntrap tvm\nrun until exit.reason == SYS64\nshow exit\nhandle\nrun\ntable exits by reason\nexpect count(exits) > 0, \"some exits\"",
  // 16 CPUID exits, the first fetch's EPT violation and the HLT (ESI counts: CPUID writes ECX).
  "vm boot x86_64 asm mode 32 {\n  movl $0x10, %esi\n1: cpuid\n  dec %esi\n  jnz 1b\n  hlt\n}\nrun\nchart exits by reason\nlet n = count(exits)\nexpect n == 18",
  "vm boot x86_64 as intel; vm boot arm64 as arm; compare intel arm\nuse intel\nshow trace last 3\ndecode esr 0x92000045\nhelp 0x31",
];

const MUTATION_TEXT = ["(", ")", "{", "}", "\"", "\r", "\t", "\n", ";", "#", "//", "exit", "exits", "where", "count(", "0x", "_", "é", "\u2028", "\u0000", "asm {", "limit 99999999999999", "((((((((", "vm boot", "run", "let", "="];

type Mutation = { kind: number; at: number; text: string; len: number };
const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.nat({ max: 4 }),
  at: fc.nat(),
  text: fc.oneof(fc.constantFrom(...MUTATION_TEXT), fc.string({ maxLength: 4 }), fc.string({ unit: "binary", maxLength: 3 })),
  len: fc.nat({ max: 12 }),
});

function mutate(src: string, m: Mutation): string {
  const at = src.length ? m.at % (src.length + 1) : 0;
  switch (m.kind) {
    case 0: return src.slice(0, at) + m.text + src.slice(at); // insert
    case 1: return src.slice(0, at) + src.slice(at + m.len); // delete
    case 2: return src.slice(0, at) + m.text + src.slice(at + m.len); // replace
    case 3: { // duplicate a span
      const span = src.slice(at, at + m.len);
      return src.slice(0, at) + span + span + src.slice(at);
    }
    default: { // swap two lines
      const lines = src.split("\n");
      const i = at % lines.length;
      const j = (at + m.len) % lines.length;
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      return lines.join("\n");
    }
  }
}

/** A seed program with 1–3 mutations. */
export const mutatedProgram: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom(...SEEDS), fc.array(mutation, { minLength: 1, maxLength: 3 }))
  .map(([seed, ms]) => ms.reduce(mutate, seed));
