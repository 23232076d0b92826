// The built-in guest assembles to the same bytes with GNU as + ld (Debian binutils) as with
// exitlab's assembler. Skipped only when binutils is missing and EXITLAB_REQUIRE_BINUTILS is unset.

import { describe, expect, test } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assembleX86 } from "../../../runtime/x86/isa/index.js";
import { X86_BOOT_BASE, X86_BOOT_SOURCE } from "../../../runtime/guests/x86_64/boot.js";
import { binutilsRequired, haveTools } from "../../tools.js";

const available = haveTools("as", "ld");
if (!available && binutilsRequired) throw new Error("GNU as/ld are required (EXITLAB_REQUIRE_BINUTILS is set)");

describe.skipIf(!available)("built-in x86 guest vs GNU binutils", () => {
  test("byte-identical image at 0x400000", () => {
    const dir = mkdtempSync(join(tmpdir(), "exitlab-x86-guest-"));
    try {
      writeFileSync(join(dir, "boot.s"), X86_BOOT_SOURCE);
      execFileSync("as", ["--64", "-o", join(dir, "boot.o"), join(dir, "boot.s")]);
      execFileSync("ld", ["-m", "elf_x86_64", `-Ttext=0x${X86_BOOT_BASE.toString(16)}`, "-e", "start", "--oformat=binary", "-o", join(dir, "boot.bin"), join(dir, "boot.o")]);
      const gnu = new Uint8Array(readFileSync(join(dir, "boot.bin")));
      const ours = assembleX86(X86_BOOT_SOURCE, { base: X86_BOOT_BASE, bits: 32 });
      expect(ours.bytes.length).toBe(gnu.length);
      const firstDiff = ours.bytes.findIndex((b, i) => b !== gnu[i]);
      expect(firstDiff, `first differing byte at 0x${(0x400000 + firstDiff).toString(16)}`).toBe(-1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
