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
import { EXTRA_32, EXTRA_64, tableExamples } from "./examples.js";
import { BOOT_SOURCE } from "./boot-source.js";

function have(tool: string): boolean {
  try {
    execFileSync(tool, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const HAVE = have("as") && have("objdump") && have("ld") && have("objcopy");
if (!HAVE && process.env.EXITLAB_REQUIRE_BINUTILS) throw new Error("EXITLAB_REQUIRE_BINUTILS is set but GNU as/objdump are missing");

interface Dumped {
  bytes: string;
  text: string;
}

/** Assemble with GNU as and read the instructions back with objdump -d. */
function gnu(lines: string[], bits: 32 | 64): Dumped[] {
  const dir = mkdtempSync(join(tmpdir(), "exitlab-x86-"));
  const src = join(dir, "t.s");
  const obj = join(dir, "t.o");
  writeFileSync(src, `.code${bits}\n` + lines.join("\n") + "\n");
  execFileSync("as", [bits === 64 ? "--64" : "--32", src, "-o", obj], { stdio: ["ignore", "ignore", "pipe"] });
  const dump = execFileSync("objdump", ["-d", "-w", obj], { encoding: "utf8" });
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
    const texts = [...examples.filter((e) => e.bits === bits).map((e) => e.text), ...(bits === 64 ? EXTRA_64 : EXTRA_32)];
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

  it("the boot start-up (labels, .code32/.code64, relaxation, data) matches as byte for byte", () => {
    const dir = mkdtempSync(join(tmpdir(), "exitlab-x86-"));
    writeFileSync(join(dir, "boot.s"), BOOT_SOURCE);
    execFileSync("as", ["--64", join(dir, "boot.s"), "-o", join(dir, "boot.o")]);
    // Link at 0x400000 so absolute label references are resolved as in our flat image.
    execFileSync("ld", ["-Ttext=0x400000", "-e", "0x400000", "-o", join(dir, "boot.elf"), join(dir, "boot.o")]);
    execFileSync("objcopy", ["-O", "binary", "-j", ".text", join(dir, "boot.elf"), join(dir, "boot.bin")]);
    const ref = readFileSync(join(dir, "boot.bin"));
    const ours = assembleX86(BOOT_SOURCE, { bits: 32, base: 0x400000n }).bytes;
    expect(ours.length).toBe(ref.length);
    const diffs: string[] = [];
    for (let i = 0; i < ours.length; i++) if (ours[i] !== ref[i]) diffs.push(`+${i.toString(16)}: ours ${ours[i]!.toString(16)} as ${ref[i]!.toString(16)}`);
    expect(diffs).toEqual([]);
  });
});

/** objdump text differences we accept (see the printed list); the count may only go down. */
const KNOWN_TEXT_DIFFERENCES: Record<32 | 64, number> = { 64: 0, 32: 0 };
