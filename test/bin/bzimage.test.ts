// `vm boot x86_64 bzimage "FILE" [append "ARGS"] [initrd "FILE"] [mem MIB]` through the CLI
// process: the synthetic kernel of test/runtime/loaders/bzimage-fixture.ts, entered by Linux's
// 64-bit boot protocol (Documentation/arch/x86/boot.rst), prints the struct boot_params it was
// given on COM1 and exits through isa-debug-exit; bad files and clauses are errors at their place.

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { makeBzImage } from "../runtime/loaders/bzimage-fixture.js";

const ROOT = join(__dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "exitlab-bzimage-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, "bzImage"), makeBzImage());
writeFileSync(join(dir, "bzImage32"), makeBzImage({ xloadflags: 0 }));
writeFileSync(join(dir, "rd"), "INITRD\n");
writeFileSync(join(dir, "notes.txt"), "not a kernel at all\n".repeat(40));

/** Runs a script (in `dir`, so file names are relative to it) through `exitlab run` (needs dist/). */
function run(script: string) {
  const file = join(dir, "s.exl");
  writeFileSync(file, script);
  const r = spawnSync(process.execPath, [join(ROOT, "bin/exitlab.js"), "run", file], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  return { out: r.stdout, err: r.stderr, status: r.status };
}

test("the kernel reads boot_params: command line, initrd at the top of RAM, the e820 map of `mem 256`; same output twice", () => {
  const script = 'vm boot x86_64 bzimage "bzImage" append "console=ttyS0 earlyprintk=serial" initrd "rd" mem 256\nrun\nshow console\n';
  const r = run(script);
  expect(r.status, r.err).toBe(0);
  expect(r.out).toContain("booted x86_64 VM `x86_64` (guest bzImage), pc 0x100200");
  expect(r.out).toContain("isa-debug-exit: the guest wrote 0x64 to port 0xf4");
  const top = (256 << 20) - 0x8000;
  expect(r.out).toContain([
    "boot_params 0x10000",
    "cs 0x10",
    "ds 0x18",
    "version 0x20f",
    "type_of_loader 0xb0",
    "kernel_alignment 0x200000",
    "cmd_line_ptr 0x20000",
    "cmdline console=ttyS0 earlyprintk=serial",
    `ramdisk_image 0x${((top - 1 - 7) & ~4095).toString(16)}`,
    "ramdisk_size 0x7",
    "INITRD",
    "e820_entries 0x3",
    "e820 0x0 0xa0000 0x1",
    `e820 0x100000 0x${(top - 0x100000).toString(16)} 0x1`,
    `e820 0x${top.toString(16)} 0x8000 0x2`,
  ].join("\n"));
  expect(run(script).out).toBe(r.out);
}, 120_000);

test("a kernel without XLF_KERNEL_64 is entered by the 32-bit protocol at 1 MiB", () => {
  const r = run('vm boot x86_64 bzimage "bzImage32" append "root=/dev/vda"\nrun\nshow console\nshow regs\n');
  expect(r.out, r.err).toContain("pc 0x100000");
  expect(r.out).toContain("32-bit entry, cmdline: root=/dev/vda");
}, 120_000);

test("bad files and clauses: errors at the file name with a hint", () => {
  const a = run('vm boot x86_64 bzimage "notes.txt"\n');
  expect(a.out + a.err).toMatch(/line 1, column 24: notes\.txt is not a bzImage: no setup header \("HdrS" at 0x202\)/);
  expect(a.out + a.err).toContain("hint: x86 Linux kernels boot from their bzImage");
  expect(a.status).not.toBe(0);
  const b = run('vm boot x86_64 bzimage "bzImage" initrd "missing"\n');
  expect(b.out + b.err).toMatch(/FileError.*cannot read the initrd missing/s);
  const c = run('vm boot arm64 bzimage "bzImage"\n');
  expect(c.out + c.err).toMatch(/`bzimage` is not how arm64 guests load: write `vm boot arm64 image "FILE"`/);
  const d = run('vm boot x86_64 image "bzImage"\n');
  expect(d.out + d.err).toContain("x86_64 boots multiboot kernels (`multiboot`) and Linux bzImages (`bzimage`)");
}, 120_000);
