// Run GNU binutils on a batch of assembly lines for the assembler agreement tests: which lines
// `as` rejects (one run over all lines, errors read per line from its messages), then the image
// of the accepted lines linked at a base address, with each line's address (from a label per line,
// read back with nm). Two `as` runs per batch whatever its size.

import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface GnuTools {
  /** Tool prefix: "" for the host's x86-64 binutils, "aarch64-linux-gnu-" for the cross ones. */
  prefix: string;
  asArgs: string[];
  /** Extra ld arguments (e.g. `-m elf_i386` for 32-bit objects). */
  ldArgs?: string[];
  /** Source text before the lines (e.g. `.code64`); must not span lines. */
  header: string;
}

export interface GnuBatch {
  /** Indexes (into the input) of the lines GNU as rejects, with its first message for each. */
  rejected: Map<number, string>;
  /** The accepted lines' image, linked at `base`. */
  image: Uint8Array;
  /** Address of each accepted line (by input index). */
  address: Map<number, bigint>;
}

/** Per-line label the batches put before each line (a global name, so nm lists it). */
export const lineLabel = (i: number): string => `__line_${i}`;

export function gnuBatch(lines: string[], tools: GnuTools, base: bigint): GnuBatch {
  const dir = mkdtempSync(join(tmpdir(), "exitlab-agree-"));
  const tool = (t: string) => tools.prefix + t;
  try {
    const src = join(dir, "t.s");
    // line i of the input is source line i + 2 (the header is line 1)
    writeFileSync(src, tools.header + "\n" + lines.join("\n") + "\n");
    const first = spawnSync(tool("as"), [...tools.asArgs, "-o", join(dir, "t.o"), src], { encoding: "utf8", maxBuffer: 1 << 28 });
    const rejected = new Map<number, string>();
    for (const m of first.stderr.matchAll(/^[^:\n]*:(\d+): Error: (.*)$/gm)) {
      const i = Number(m[1]) - 2;
      if (i >= 0 && !rejected.has(i)) rejected.set(i, m[2]!);
    }
    if (first.status !== 0 && rejected.size === 0) throw new Error(`${tool("as")} failed: ${first.stderr}`);
    const kept = lines.map((l, i) => (rejected.has(i) ? "" : `${lineLabel(i)}: ${l}`));
    writeFileSync(src, tools.header + "\n" + kept.join("\n") + "\n");
    execFileSync(tool("as"), [...tools.asArgs, "-o", join(dir, "t.o"), src], { stdio: ["ignore", "ignore", "pipe"] });
    const hex = "0x" + base.toString(16);
    execFileSync(tool("ld"), [...(tools.ldArgs ?? []), `-Ttext=${hex}`, "-e", hex, "-o", join(dir, "t.elf"), join(dir, "t.o")], { stdio: "pipe" });
    execFileSync(tool("objcopy"), ["-O", "binary", "-j", ".text", join(dir, "t.elf"), join(dir, "t.bin")]);
    const address = new Map<number, bigint>();
    const nm = execFileSync(tool("nm"), [join(dir, "t.elf")], { encoding: "utf8", maxBuffer: 1 << 28 });
    for (const m of nm.matchAll(/^([0-9a-f]+) \w __line_(\d+)$/gm)) address.set(Number(m[2]), BigInt("0x" + m[1]));
    return { rejected, image: new Uint8Array(readFileSync(join(dir, "t.bin"))), address };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
