// Differential test against GNU binutils (Debian x86-64 `as` and `objdump`): every table example and
// the hand-written extras are assembled by both; bytes must agree instruction by instruction, and
// our disassembly is compared with objdump's text (differences are counted and must stay within
// the documented list). Skips only when `as` is missing and EXITLAB_REQUIRE_BINUTILS is unset.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { assembleX86, decodeX86, disassembleX86 } from "../../../../runtime/x86/isa/index.js";
import { EXTRA_32, EXTRA_64, SEGMENT_EXTRAS_64, tableExamples } from "./examples.js";
import { BOOT_SOURCE } from "./boot-source.js";
import { X86_BOOT_BASE, X86_BOOT_SOURCE } from "../../../../runtime/guests/x86_64/boot.js";
import { binutilsRequired, haveTools } from "../../../tools.js";

const HAVE = haveTools("as", "objdump", "ld", "objcopy");
if (!HAVE && binutilsRequired) throw new Error("EXITLAB_REQUIRE_BINUTILS is set but GNU as/objdump are missing");

interface Dumped {
  bytes: string;
  text: string;
}

/** Assemble with GNU as and read the instructions back with objdump -d. */
function gnu(lines: string[], bits: 16 | 32 | 64): Dumped[] {
  const dir = mkdtempSync(join(tmpdir(), "exitlab-x86-"));
  const src = join(dir, "t.s");
  const obj = join(dir, "t.o");
  writeFileSync(src, `.code${bits}\n` + lines.join("\n") + "\n");
  execFileSync("as", [bits === 64 ? "--64" : "--32", src, "-o", obj], { stdio: ["ignore", "ignore", "pipe"] });
  const dump = execFileSync("objdump", ["-d", "-w", ...(bits === 16 ? ["-M", "i8086"] : []), obj], { encoding: "utf8" });
  const out: Dumped[] = [];
  for (const l of dump.split("\n")) {
    const m = /^\s*[0-9a-f]+:\t((?:[0-9a-f]{2} )+)\s*\t?(.*)$/.exec(l);
    if (!m) continue;
    out.push({ bytes: m[1]!.replace(/ /g, ""), text: normalize(m[2]!) });
  }
  return out;
}

function normalize(t: string): string {
  return t.replace(/\s+#.*$/, "").replace(/\s*<[^>]*>/g, "").replace(/\s+/g, " ").trim();
}

describe.skipIf(!HAVE)("encodings agree with GNU as (Debian binutils)", () => {
  const { examples } = tableExamples();
  for (const bits of [64, 32] as const) {
    const texts = [...examples.filter((e) => e.bits === bits).map((e) => e.text), ...(bits === 64 ? [...EXTRA_64, ...SEGMENT_EXTRAS_64] : EXTRA_32)];
    // Branch examples use `.+N`; give each instruction its own address context by assembling at 0.
    it(`${bits}-bit: ${texts.length} instructions, byte for byte and objdump text`, () => {
      const ref = gnu(texts, bits);
      expect(ref.length).toBe(texts.length);
      const mode = bits === 64 ? "long64" : "protected32";
      const prog = assembleX86(`.code${bits}\n` + texts.join("\n"), { bits });
      const byteDiffs: string[] = [];
      const textDiffs: string[] = [];
      prog.lines.forEach((l, i) => {
        const off = Number(l.address);
        const insn = decodeX86((k) => prog.bytes[off + k] ?? 0, mode);
        const mine = Buffer.from(prog.bytes.subarray(off, off + insn.length)).toString("hex");
        if (mine !== ref[i]!.bytes) byteDiffs.push(`${l.text}: ours ${mine}, as ${ref[i]!.bytes}`);
        const dis = disassembleX86(insn, l.address);
        if (normalize(dis) !== ref[i]!.text) textDiffs.push(`${l.text}: ours "${dis}", objdump "${ref[i]!.text}"`);
      });
      expect(prog.lines.length).toBe(texts.length);
      expect(byteDiffs).toEqual([]);
      if (textDiffs.length) console.log(`${bits}-bit disassembly differences from objdump (${textDiffs.length}):\n` + textDiffs.join("\n"));
      expect(textDiffs.length).toBeLessThanOrEqual(KNOWN_TEXT_DIFFERENCES[bits]);
    });
  }

  it("16-bit code (.code16, real mode): bytes and objdump -M i8086 text", () => {
    const texts = [
      "mov $0x10,%ax", "mov $0x12345678,%eax", "mov %ax,%ds", "mov (%bx,%si),%ax", "mov 0x10(%bp),%cx", "mov 0x1234,%al",
      "lgdtl (%bx)", "mov %cr0,%eax", "or $0x1,%eax", "mov %eax,%cr0", "ljmp $0x8,$0x1000", "ljmpl $0x8,$0x12345", "push %ax",
      "pushl $0x1", "call .+0x100", "jmp .+2", "int $0x10", "iret", "rep movsb %ds:(%si),%es:(%di)", "in $0x60,%al",
      "lea 0x4(%esi),%eax", "add %bx,-0x2(%bp,%di)", "movzbw (%di),%ax", "retl",
      "addr32 mov 0x2019066,%al", "addr32 mov %eax,0x2019066", "addr32 mov 0x12,%ax",
    ];
    const ref = gnu(texts, 16);
    const prog = assembleX86(`.code16\n` + texts.join("\n"), { bits: 16 });
    const diffs: string[] = [];
    prog.lines.forEach((l, i) => {
      const off = Number(l.address);
      const insn = decodeX86((k) => prog.bytes[off + k] ?? 0, "real");
      const mine = Buffer.from(prog.bytes.subarray(off, off + insn.length)).toString("hex");
      const dis = normalize(disassembleX86(insn, l.address));
      if (mine !== ref[i]!.bytes || dis !== ref[i]!.text) diffs.push(`${l.text}: ours ${mine} "${dis}", as ${ref[i]!.bytes} "${ref[i]!.text}"`);
    });
    expect(diffs).toEqual([]);
  });

  it.each([
    ["the assembler workout (labels, .code32/.code64, relaxation, .rept, .macro, data)", BOOT_SOURCE],
    ["exitlab's built-in x86-64 boot guest", X86_BOOT_SOURCE],
  ])("%s matches GNU as byte for byte", (_name, source) => {
    const dir = mkdtempSync(join(tmpdir(), "exitlab-x86-"));
    writeFileSync(join(dir, "boot.s"), source);
    execFileSync("as", ["--64", join(dir, "boot.s"), "-o", join(dir, "boot.o")]);
    // Link at 0x400000 (X86_BOOT_BASE) so absolute label references are resolved as in our flat image.
    expect(X86_BOOT_BASE).toBe(0x400000n);
    execFileSync("ld", ["-Ttext=0x400000", "-e", "0x400000", "-o", join(dir, "boot.elf"), join(dir, "boot.o")]);
    execFileSync("objcopy", ["-O", "binary", "-j", ".text", join(dir, "boot.elf"), join(dir, "boot.bin")]);
    const ref = readFileSync(join(dir, "boot.bin"));
    const ours = assembleX86(source, { bits: 32, base: 0x400000n }).bytes;
    expect(ours.length).toBe(ref.length);
    const diffs: string[] = [];
    for (let i = 0; i < ours.length; i++) if (ours[i] !== ref[i]) diffs.push(`+${i.toString(16)}: ours ${ours[i]!.toString(16)} as ${ref[i]!.toString(16)}`);
    expect(diffs).toEqual([]);
  });
});

/**
 * objdump text differences we accept (see the printed list); the count may only go down.
 * 64-bit: the three es/cs/ss/ds overrides of SEGMENT_EXTRAS_64, which objdump prints as a prefix
 * word ("ss mov (%rax),%eax") that GNU as refuses to assemble; we print `%ss:(%rax)`.
 */
const KNOWN_TEXT_DIFFERENCES: Record<32 | 64, number> = { 64: 3, 32: 0 };

/**
 * Random decodable byte strings: our length must match objdump's (after objdump's habit of
 * printing an ignored REX as its own line), and our text must match after removing prefixes that
 * objdump names but that have no effect (ds/ss/cs/es in 64-bit mode, xacquire/xrelease, unused
 * rep/REX/data16/addr32) and `%eiz`-style SIB forms. What is left is counted and bounded.
 */
describe.skipIf(!HAVE)("disassembly of random instructions agrees with objdump", () => {
  const PREFIX_WORDS = /^((ds|ss|es|cs|fs|gs|repz|repnz|rep|bnd|notrack|lock|data16|addr32|addr16|xacquire|xrelease|rex(\.\w+)?) )+/;
  for (const mode of ["long64", "protected32"] as const) {
    it(`${mode}: 4000 random instructions`, () => {
      let x = mode === "long64" ? 0x1234567 : 0x7654321;
      const rand = () => ((x ^= x << 13), (x >>>= 0), (x ^= x >>> 17), (x ^= x << 5), (x >>>= 0), x);
      const pre = [0x66, 0x67, 0xf3, 0xf2, 0x48, 0x41, 0x4c, 0x0f, 0x0f, 0x0f, 0x64];
      const insns: { bytes: number[]; text: string; at: number }[] = [];
      let at = 0;
      while (insns.length < 4000) {
        const b = Array.from({ length: 15 }, () => (rand() % 5 === 0 ? pre[rand() % pre.length]! : rand() & 0xff));
        const i = decodeX86((k) => b[k]!, mode);
        if (i.spec.sem === "ud") continue;
        insns.push({ bytes: b.slice(0, i.length), text: disassembleX86(i, BigInt(at)), at });
        at += i.length;
      }
      const dir = mkdtempSync(join(tmpdir(), "exitlab-x86-"));
      writeFileSync(join(dir, "r.s"), insns.map((i) => ".byte " + i.bytes.join(",")).join("\n") + "\n");
      execFileSync("as", [mode === "long64" ? "--64" : "--32", join(dir, "r.s"), "-o", join(dir, "r.o")]);
      const dump = execFileSync("objdump", ["-d", "-w", join(dir, "r.o")], { encoding: "utf8", maxBuffer: 1 << 26 });
      const rows = dump.split("\n").map((l) => /^\s*([0-9a-f]+):\t((?:[0-9a-f]{2} )+)\s*\t?(.*)$/.exec(l)).filter((m): m is RegExpExecArray => m !== null);
      const byAddr = new Map(rows.map((r) => [parseInt(r[1]!, 16), { len: r[2]!.trim().split(" ").length, text: normalize(r[3]!) }]));
      let lengthDiffs = 0;
      const textDiffs: string[] = [];
      for (const ins of insns) {
        // follow objdump from our start address until it reaches our end
        let a = ins.at;
        let text = "";
        while (a < ins.at + ins.bytes.length && byAddr.has(a)) {
          const r = byAddr.get(a)!;
          text = r.text;
          a += r.len;
        }
        if (a !== ins.at + ins.bytes.length) {
          lengthDiffs++;
          continue;
        }
        // In 64-bit mode objdump names an ignored es/cs/ss/ds override as a prefix word ("ss add ..."),
        // which GNU as refuses to assemble; we keep it on the operand (`%ss:`) so the text re-assembles.
        const strip = (t: string) =>
          t.replace(PREFIX_WORDS, "").replace(/%[er]iz/g, "").replace(/,p[nt] /, " ").replace(mode === "long64" ? /%(es|cs|ss|ds):/g : /^$/, "");
        // D6 is Intel's reserved opcode and AMD's SALC, which binutils does not name: "(bad)".
        if (ins.text === "salc" && text.endsWith("(bad)")) continue;
        if (strip(text) !== strip(ins.text) && !/[er]iz/.test(text)) textDiffs.push(`${Buffer.from(ins.bytes).toString("hex")}: ours "${ins.text}", objdump "${text}"`);
      }
      if (textDiffs.length) console.log(`${mode}: ${textDiffs.length} text differences from objdump:\n${textDiffs.slice(0, 30).join("\n")}`);
      // Known: 66-prefixed near branches in 64-bit mode (we decode Intel's rel32, binutils AMD's rel16).
      expect(lengthDiffs).toBeLessThanOrEqual(mode === "long64" ? 10 : 0);
      expect(textDiffs.length).toBeLessThanOrEqual(10);
    });
  }
});
