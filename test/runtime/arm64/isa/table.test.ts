// Every table entry has an example; assembler → decoder → disassembler agree on each; and the
// encodings (and, where practical, the disassembly text) agree with GNU binutils.

import { describe, it, expect } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { A64_TABLE, assembleA64, decodeA64, disassembleA64 } from "../../../../runtime/arm64/isa/index.js";
import { ASM_ONLY_EXAMPLES, EXAMPLES } from "./examples.js";
import { binutilsRequired, haveTools } from "../../../tools.js";

const BASE = 0x40080000n;
const SOURCE = ["back:", ...EXAMPLES.map((e) => "  " + e), "fwd:", "  nop", "  .balign 8", "lit: .word 0x12345678, 0x9abcdef0", ""].join("\n");

function assembled(): { words: number[]; addrs: bigint[]; bytes: Uint8Array } {
  const p = assembleA64(SOURCE, { base: BASE });
  const dv = new DataView(p.bytes.buffer, p.bytes.byteOffset, p.bytes.byteLength);
  const words: number[] = [];
  const addrs: bigint[] = [];
  for (let i = 0; i < EXAMPLES.length; i++) {
    words.push(dv.getUint32(4 * i, true));
    addrs.push(BASE + BigInt(4 * i));
  }
  return { words, addrs, bytes: p.bytes };
}

const mnemonicOf = (ex: string) => ex.split(" ")[0]!.split(".")[0]!;
const baseKey = (name: string) => A64_TABLE.find((s) => s.name === name)?.key;

describe("A64 table", () => {
  const { words, addrs, bytes } = assembled();

  it("has an example for every entry (decoded, or assembled for assembler-only forms)", () => {
    const hit = new Set<string>();
    words.forEach((w, i) => {
      const spec = decodeA64(w).spec;
      hit.add(spec.name);
      // an entry always shown as an alias (e.g. UBFM) is covered by an example written with its own mnemonic
      if (spec.aliasOf && baseKey(spec.aliasOf) === mnemonicOf(EXAMPLES[i]!)) hit.add(spec.aliasOf);
    });
    for (const ex of EXAMPLES) {
      // assembler-only forms: the example assembles to the same word as the named entry's decoder form
      if (/\[x2, #-3\]/.test(ex)) hit.add(A64_TABLE.find((s) => s.asmOnly && s.syntax.startsWith(ex.split(" ")[0]! + " " + (ex.includes(" x1,") ? "<Xt>" : "<Wt>")))?.name ?? "");
    }
    const word = (t: string) => Buffer.from(assembleA64(t).bytes).toString("hex");
    for (const [name, [ex, same]] of Object.entries(ASM_ONLY_EXAMPLES)) {
      expect(word(ex), `${ex} assembles as ${same}`).toBe(word(same));
      hit.add(name);
    }
    const missing = A64_TABLE.filter((s) => !hit.has(s.name)).map((s) => s.name);
    expect(missing).toEqual([]);
  });

  it("decodes every example to the entry whose mnemonic it was written with", () => {
    const bad: string[] = [];
    EXAMPLES.forEach((ex, i) => {
      const spec = decodeA64(words[i]!).spec;
      const mn = ex.split(" ")[0]!.split(".")[0]!;
      const fallback = /\[x2, #-3\]/.test(ex) ? mn.replace(/^(st|ld)r/, "$1ur") : mn; // ldr [x, #-3] is ldur
      if (spec.key !== mn && spec.key !== fallback && !(spec.aliasOf && baseKey(spec.aliasOf) === mn)) bad.push(`${ex} → ${spec.name}`);
    });
    expect(bad).toEqual([]);
  });

  it("round-trips: disassemble(word) reassembles to the same word", () => {
    const bad: string[] = [];
    words.forEach((w, i) => {
      const text = disassembleA64(w, addrs[i]!);
      let again: number | undefined;
      try {
        const p = assembleA64(text, { base: addrs[i]! });
        again = new DataView(p.bytes.buffer, p.bytes.byteOffset).getUint32(0, true);
      } catch (e) {
        bad.push(`${EXAMPLES[i]} → '${text}': ${(e as Error).message}`);
        return;
      }
      if (again !== w) bad.push(`${EXAMPLES[i]} → '${text}' → ${again.toString(16)} != ${w.toString(16)}`);
    });
    expect(bad).toEqual([]);
  });

  const tools = haveTools("aarch64-linux-gnu-as", "aarch64-linux-gnu-ld");

  describe.skipIf(!tools && !binutilsRequired)("against GNU binutils", () => {
    let gnuBytes: Uint8Array = new Uint8Array();
    let objdump = "";
    it("binutils are present (required when EXITLAB_REQUIRE_BINUTILS is set)", () => {
      expect(tools).toBe(true);
      const dir = mkdtempSync(join(tmpdir(), "exitlab-a64-"));
      try {
        writeFileSync(join(dir, "t.s"), SOURCE);
        execFileSync("aarch64-linux-gnu-as", ["-march=armv8.2-a", "-o", join(dir, "t.o"), join(dir, "t.s")]);
        execFileSync("aarch64-linux-gnu-ld", ["-Ttext=0x" + BASE.toString(16), "-e", "0x" + BASE.toString(16), "-o", join(dir, "t.elf"), join(dir, "t.o")], { stdio: "pipe" });
        execFileSync("aarch64-linux-gnu-objcopy", ["-O", "binary", join(dir, "t.elf"), join(dir, "t.bin")]);
        gnuBytes = new Uint8Array(readFileSync(join(dir, "t.bin")));
        objdump = execFileSync("aarch64-linux-gnu-objdump", ["-d", join(dir, "t.elf")], { encoding: "utf8" });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("encodes every example exactly as GNU as does (word by word)", () => {
      const gdv = new DataView(gnuBytes.buffer, gnuBytes.byteOffset, gnuBytes.byteLength);
      const bad: string[] = [];
      EXAMPLES.forEach((ex, i) => {
        const g = gdv.getUint32(4 * i, true);
        if (g !== words[i]) bad.push(`${ex}: ours ${words[i]!.toString(16).padStart(8, "0")} gnu ${g.toString(16).padStart(8, "0")}`);
      });
      expect(bad).toEqual([]);
      expect(Array.from(bytes)).toEqual(Array.from(gnuBytes)); // including the literal and padding
    });

    it("disassembles like objdump (system register names aside until sysregs.ts is wired)", () => {
      const gnu = new Map<bigint, string>();
      for (const line of objdump.split("\n")) {
        const m = /^\s*([0-9a-f]+):\t[0-9a-f]{8} \t([^\t]+)(?:\t(.*))?$/.exec(line);
        if (!m) continue;
        let ops = (m[3] ?? "").replace(/\s*\/\/.*$/, "").replace(/(^|, )([0-9a-f]+) <[^>]*>/g, "$10x$2").trim();
        ops = ops.replace(/\s+$/, "");
        gnu.set(BigInt("0x" + m[1]), ops ? `${m[2]!.trim()} ${ops}` : m[2]!.trim());
      }
      const bad: string[] = [];
      let sysregNames = 0;
      words.forEach((w, i) => {
        const ours = disassembleA64(w, addrs[i]!);
        const theirs = gnu.get(addrs[i]!);
        if (ours === theirs) return;
        if (/^(mrs|msr) /.test(ours) && /s\d_\d_c\d+_c\d+_\d/.test(ours)) { sysregNames++; return; }
        bad.push(`${EXAMPLES[i]}: ours '${ours}' objdump '${theirs}'`);
      });
      expect(bad).toEqual([]);
      expect(sysregNames).toBeLessThanOrEqual(5);
    });
  });
});
