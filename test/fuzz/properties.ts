// The fuzzers' properties, one per target. Each takes one input and throws (an AssertionError or
// the exception the code under test raised) when the property does not hold; the fuzz tests run
// them on generated inputs, the corpus test on the saved reproducers.

import { Lab, renderAllText, type ErrorResult, type Result } from "../../lab/index.js";
import { createMachine } from "../../runtime/index.js";
import { assembleA64, decodeA64, disassembleA64, UNDEFINED_SPEC } from "../../runtime/arm64/isa/index.js";
import { X86_TABLE, assembleX86, decodeX86, disassembleX86, type X86Mode } from "../../runtime/x86/isa/index.js";
import { ADDRESS_SIZE_IGNORED } from "../../runtime/x86/isa/types.js";
import type { Arch } from "../../runtime/core/machine.js";

class PropertyFailed extends Error {
  override name = "PropertyFailed";
}

function must(cond: boolean, why: string): asserts cond {
  if (!cond) throw new PropertyFailed(why);
}

/** V8's own messages: a JavaScript exception that leaked out as an exitlab error. */
const LEAKED = /Cannot read propert|is not a function|is not iterable|is not defined|Maximum call stack|Invalid array length|Invalid string length|Cannot convert|Cannot mix BigInt|serialize a BigInt|Invalid typed array length|undefined \(reading/;

/** Longest a generated program may take, in CPU time (a hang is a failure, not a timeout of the test). */
export const PROGRAM_MS = 20_000;

/**
 * This process's CPU time in ms (user + system, process.cpuUsage): the clock of PROGRAM_MS. Not
 * the wall clock, which also runs while other processes have the machine's cores: on a loaded
 * 2-core machine a program of 2 s of CPU took over 20 s by the wall clock and was taken for a hang
 * (test/fuzz/corpus/dsl-mutation-ea0ecef75187.json).
 */
export function programClock(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * DSL: Lab.run never throws, returns within PROGRAM_MS of CPU time, every error has a line and a
 * column inside the program and is an exitlab error (not a leaked JavaScript exception), and two
 * fresh sessions render the program to the same text.
 */
export async function checkProgram(source: string): Promise<void> {
  const fresh = async () => (await Lab.create()).session;
  const outputs: string[] = [];
  for (let i = 0; i < 2; i++) {
    // A fresh session each time (the Lab objects only carry the loaded runtime).
    const session = await fresh();
    const t0 = programClock();
    let results: Result[];
    try {
      results = session.execute(source, { baseDir: "/nonexistent", interrupted: () => programClock() - t0 > PROGRAM_MS });
    } catch (e) {
      throw new PropertyFailed(`Lab.run threw ${e instanceof Error ? e.stack : String(e)}`);
    }
    const lines = source.split("\n").length;
    for (const r of results.filter((x): x is ErrorResult => x.kind === "error")) {
      must(r.name !== "Interrupted", `the program ran longer than ${PROGRAM_MS} ms of CPU time`);
      must(r.name !== "InternalError", `internal error: ${r.message}`);
      must(!LEAKED.test(r.message), `a JavaScript exception leaked: ${r.name}: ${r.message}`);
      must(Number.isInteger(r.line) && r.line >= 1 && r.line <= lines, `error line ${r.line} outside 1..${lines}: ${r.message}`);
      must(Number.isInteger(r.column) && r.column >= 1, `error column ${r.column}: ${r.message}`);
      must(r.message.length > 0 && r.message.length <= 1001, `error message of ${r.message.length} characters`);
    }
    outputs.push(renderAllText(results));
  }
  must(outputs[0] === outputs[1], `two fresh runs differ:\n${outputs[0]}\n----\n${outputs[1]}`);
}

/** Whether an exception is one exitlab raises on purpose (its error classes, named). */
function isExitlabError(e: unknown): boolean {
  return e instanceof Error && !LEAKED.test(e.message) && !["TypeError", "ReferenceError", "SyntaxError"].includes(e.name) && !(e instanceof RangeError && /call stack|Invalid/.test(e.message));
}

/** A few steps of a machine booted from `source`: only exitlab errors may come out. */
function execute(arch: Arch, source: string, mode?: 16 | 32 | 64): void {
  try {
    const m = createMachine(arch, { guest: { source, ...(mode ? { mode } : {}) } });
    m.run({ maxSteps: 50 });
  } catch (e) {
    must(isExitlabError(e), `executing threw ${e instanceof Error ? e.stack : String(e)}`);
  }
}

/**
 * A64: every decodable word disassembles to text that assembles again, to a word that disassembles
 * to the same text (the same instruction; words differing only in bits the architecture ignores
 * print alike), and executing it raises nothing but exitlab errors.
 */
export function checkA64(word: number): void {
  const insn = decodeA64(word >>> 0);
  const text = disassembleA64(word >>> 0, 0x40080000n);
  if (insn.spec !== UNDEFINED_SPEC) {
    let out: Uint8Array;
    try {
      out = assembleA64(text, { base: 0x40080000n }).bytes;
    } catch (e) {
      throw new PropertyFailed(`0x${(word >>> 0).toString(16)} disassembles to \`${text}\`, which does not assemble: ${(e as Error).message}`);
    }
    must(out.length === 4, `\`${text}\` assembles to ${out.length} bytes`);
    const again = (out[0]! | (out[1]! << 8) | (out[2]! << 16) | (out[3]! << 24)) >>> 0;
    must(disassembleA64(again, 0x40080000n) === text, `0x${(word >>> 0).toString(16)} → \`${text}\` → 0x${again.toString(16)} → \`${disassembleA64(again, 0x40080000n)}\``);
  }
  execute("arm64", `.inst 0x${(word >>> 0).toString(16)}\n`);
}

const MODES: Record<16 | 32 | 64, X86Mode> = { 16: "real", 32: "protected32", 64: "long64" };

/**
 * Text with the choices GNU as makes on its own undone, so that objdump text and its re-assembly
 * compare equal when GNU as would also give these bytes (exitlab's assembler follows GNU as, and
 * test/runtime/x86/isa/gnu-agree.test.ts checks that it does): an override naming the default
 * segment is dropped, an explicit zero displacement too, `xchg` takes the accumulator form in
 * either operand order (and is `nop` for the accumulator with itself), a segment register load
 * ignores the operand size (GNU as writes neither 66h nor REX.W on 8E: the CPU loads 16 bits, SDM
 * Vol. 2 MOV) and a segment register store REX.W, a shift or rotate by 1 takes the D0/D1 form, an addr16/addr32 prefix comes
 * before lock and rep (objdump names the prefixes in the order of their bytes, GNU as lays them
 * out in its own), and an absolute address is one modulo the address size (`-0x75bd` is
 * 0xffff8a43 in 32-bit addressing).
 */
export function gnuNormal(text: string, addressSize: 2 | 4 | 8): string {
  let t = text.replace(/^((?:lock |rep |repz |repnz )+)(addr(?:16|32) )/, "$2$1").replace(/%ds:/g, "").replace(/%ss:(?=[^,]*%[re]?[bs]p\b)/g, "").replace(/(^|[ ,])0x0\(/g, "$1(");
  const xchg = /^(\S*xchg\s+)(%\w+),(%\w+)$/.exec(t);
  if (xchg) t = xchg[1]! + [xchg[2]!, xchg[3]!].sort().join(",");
  t = t.replace(/^xchg\s+%([re]ax),%\1$/, "nop"); // GNU as writes 90 for it (66 48 90 is objdump's xchg %rax,%rax)
  // A segment register load (8E) ignores the operand size, 66h as REX.W: its source at 16 bits.
  t = t.replace(/%[re]?([a-d]x|[sd]i|[sb]p)(?=,%[c-gs]s$)/, "%$1").replace(/%(r\d+)[dw]?(?=,%[c-gs]s$)/, "%$1w");
  t = t.replace(/^(mov\s+%[c-gs]s,)%r(?=[a-z])/, "$1%e").replace(/^(mov\s+%[c-gs]s,%r\d+)$/, "$1d");
  t = t.replace(/^((?:sh[lr]|sa[lr]|ro[lr]|rc[lr])[bwlq]?\s+)\$0x1,/, "$1");
  // Absolute addresses (a constant not after `$`, not before `(`): modulo the address size.
  const wrap = (1n << BigInt(addressSize * 8)) - 1n;
  t = t.replace(/(^|[ ,:])(-?)0x([0-9a-f]+)(?=,|$)/g, (_m, p: string, neg: string, h: string) => `${p}0x${((neg ? -BigInt("0x" + h) : BigInt("0x" + h)) & wrap).toString(16)}`);
  return t;
}

/**
 * x86: every decodable byte string disassembles to text that assembles again (in the same code
 * size) to bytes that disassemble to the same text, and executing the bytes raises nothing but
 * exitlab errors.
 */
/**
 * Disassembly GNU as itself does not take back, each with why; exitlab's assembler agrees with GNU
 * as here (issue 19 leaves them open: the disassembler prints what objdump prints).
 */
export const X86_KNOWN_GAPS: readonly { text: RegExp; why: string }[] = [
  { text: /^bswap\s+%[a-ds][xip]$/, why: "BSWAP of a 16-bit register is undefined (SDM Vol. 2 BSWAP); objdump prints it, GNU as refuses it" },
  { text: /^movs[bw]w\s/, why: "objdump's movsww/movsbw (0F BF/BE with 66h in 16-bit code); GNU as spells them movsx" },
  { text: /^movzww\s/, why: "objdump's movzww (0F B7 with a 16-bit operand size: a word zero-extended into a word); GNU as has no AT&T spelling for it (movzww: invalid suffix; movzw/movzx: a byte source)" },
  { text: /^(jmp|call)w\s+0x/, why: "objdump's jmpw/callw rel16 (66h E9/E8 in 32-bit code); GNU as reads jmpw as indirect" },
  { text: /^l(call|jmp)q\s/, why: "objdump's lcallq/ljmpq (REX.W FF /3, /5); GNU as takes no q suffix there" },
  { text: /(^|\s)salc$/, why: "D6 is AMD's SALC and a reserved opcode in Intel's map (x86/realmode.c runs it); objdump prints (bad) and GNU as has no salc" },
];

/**
 * Mnemonics the assembler produces. The x87/SSE/AVX rows (runtime/x86/isa/sse-table.ts) are decoded,
 * disassembled and executed but never assembled (noasm, and no assembled row shares their mnemonic):
 * their round trip is not asked, their execution is.
 */
const ASSEMBLED = new Set(X86_TABLE.filter((s) => !s.noAsm).flatMap((s) => [s.mnemonic, ...(s.aliases ?? [])]));

export function checkX86(input: { bytes: number[]; bits: 16 | 32 | 64 }): void {
  const { bytes, bits } = input;
  const mode = MODES[bits];
  const insn = decodeX86((i) => bytes[i] ?? 0x90, mode);
  const hex = Buffer.from(bytes.slice(0, insn.length)).toString("hex");
  if (insn.spec.sem !== "ud" && !(insn.spec.noAsm && !ASSEMBLED.has(insn.spec.mnemonic))) {
    const text = disassembleX86(insn, 0x1000n);
    let out: Uint8Array;
    try {
      out = assembleX86(`.code${bits}\n${text}\n`, { base: 0x1000n, bits }).bytes;
    } catch (e) {
      if (X86_KNOWN_GAPS.some((g) => g.text.test(text))) return execute("x86_64", `.byte ${bytes.map((b) => "0x" + b.toString(16)).join(", ")}\n`, bits);
      throw new PropertyFailed(`${hex} (${bits}-bit) disassembles to \`${text}\`, which does not assemble: ${(e as Error).message}`);
    }
    const again = Array.from(out);
    const insn2 = decodeX86((i) => again[i] ?? 0x90, mode);
    const text2 = disassembleX86(insn2, 0x1000n);
    const why = `${hex} (${bits}-bit) → \`${text}\` → ${Buffer.from(again).toString("hex")} → \`${text2}\``;
    must(insn2.length === again.length && gnuNormal(text2, insn.addressSize) === gnuNormal(text, insn.addressSize), why);
    // the same address size (a moffs's width, the registers a string instruction walks), except on
    // the branches it does not change, where GNU as drops addr16/addr32
    must(insn2.addressSize === insn.addressSize || ADDRESS_SIZE_IGNORED.has(insn.spec.sem), `${why}: address size ${insn.addressSize * 8} became ${insn2.addressSize * 8}`);
  }
  execute("x86_64", `.byte ${bytes.map((b) => "0x" + b.toString(16)).join(", ")}\n`, bits);
}
