// Differential test against GNU objdump over a seeded sample of random instruction words: for
// every word in the general-purpose/system part of A64 the two disassemblers must agree on
// "undefined or not" and on the text. Words objdump shows with FP/SIMD/SVE registers are outside
// exitlab's model and skipped; so are MRS/MSR with op0 < 2 (objdump prints s0_*/s1_* names for
// encodings the Arm ARM leaves unallocated), and instructions whose mnemonic the table does not
// have at all (prfm, crc32, later-architecture atomics, MTE, pointer authentication).

import { describe, it, expect } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { A64_TABLE, disassembleA64 } from "../../../../runtime/arm64/isa/index.js";
import { binutilsRequired, haveTools } from "../../../tools.js";

const MODELLED = new Set(A64_TABLE.map((s) => s.key));

const BASE = 0x40080000n;
const COUNT = 8000;

const tools = haveTools("aarch64-linux-gnu-objdump", "aarch64-linux-gnu-as");

describe.skipIf(!tools && !binutilsRequired)("disassembly agrees with objdump on random words", () => {
  it("agrees on every general-purpose and system encoding in the sample", () => {
    expect(tools).toBe(true);
    let seed = 0x5eed;
    const words: number[] = [];
    for (let i = 0; i < COUNT; i++) words.push((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0));
    const dir = mkdtempSync(join(tmpdir(), "exitlab-a64-dis-"));
    let dump: string;
    try {
      writeFileSync(join(dir, "r.s"), words.map((w) => `.inst 0x${w.toString(16)}`).join("\n") + "\n");
      execFileSync("aarch64-linux-gnu-as", ["-march=armv8.2-a", "-o", join(dir, "r.o"), join(dir, "r.s")]);
      execFileSync("aarch64-linux-gnu-ld", ["-Ttext=0x" + BASE.toString(16), "-e", "0x" + BASE.toString(16), "-o", join(dir, "r.elf"), join(dir, "r.o")], { stdio: "pipe" });
      dump = execFileSync("aarch64-linux-gnu-objdump", ["-d", join(dir, "r.elf")], { encoding: "utf8", maxBuffer: 64 << 20 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const gnu = new Map<bigint, string>();
    for (const line of dump.split("\n")) {
      const m = /^\s*([0-9a-f]+):\t[0-9a-f]{8} \t([^\t]+)(?:\t(.*))?$/.exec(line);
      if (!m) continue;
      const ops = (m[3] ?? "").replace(/\s*\/\/.*$/, "").replace(/(^|, )([0-9a-f]+) <[^>]*>/g, "$10x$2").trim();
      gnu.set(BigInt("0x" + m[1]), ops ? `${m[2]!.trim()} ${ops}` : m[2]!.trim());
    }
    const bad: string[] = [];
    let compared = 0;
    words.forEach((w, i) => {
      const addr = BASE + BigInt(4 * i);
      const theirs = gnu.get(addr) ?? "?";
      const ours = disassembleA64(w, addr);
      const theirsUndef = theirs.startsWith(".inst");
      const oursUndef = ours.startsWith(".inst");
      if (theirsUndef && oursUndef) return;
      if (/\b([vzpqdshb]\d+|z\d+\.|p\d+\/)/.test(theirs) && oursUndef) return; // FP/SIMD/SVE: not modelled
      if (/^(mrs|msr) .*\bs[01]_/.test(theirs) && oursUndef) return;
      if (oursUndef && !MODELLED.has(theirs.split(/[ .]/)[0]!)) return; // an instruction exitlab does not model (prfm, crc32, ARMv8.1+ atomics, MTE, ...)
      compared++;
      const norm = (t: string) => t.replace(/\bs3_\d_c\d+_c\d+_\d\b|\b[a-z][a-z0-9_]*_el[0-3]\b/g, "<sysreg>");
      if (theirs !== ours && !(/^(mrs|msr) /.test(ours) && norm(theirs) === norm(ours))) bad.push(`${w.toString(16).padStart(8, "0")}: ours '${ours}' objdump '${theirs}'`);
    });
    expect(bad).toEqual([]);
    expect(compared).toBeGreaterThan(1000);
  });
});
