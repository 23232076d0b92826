// Binary guests loaded as QEMU's -kernel loads them: arm64 raw images, Linux Images (header:
// Documentation/arm64/booting.rst) and ELF64 (System V gABI program headers); x86 multiboot ELF32
// (Multiboot Specification 0.6.96 §3.1.1 header, §3.3 information structure). The kvm-unit-tests
// binaries of ../shared boot when they are there (CI has them beside the clone).

import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { parseArm64Image, RAW_IMAGE_OFFSET } from "../../../runtime/arm64/image.js";
import { multibootInfo, parseMultibootElf, MULTIBOOT_INFO_ADDRESS } from "../../../runtime/x86/image.js";
import { createMachine } from "../../../runtime/index.js";
import { readElfSymbols } from "../../../runtime/core/image.js";
import type { X86Machine } from "../../../runtime/x86/machine.js";
import { Session } from "../../../lab/session.js";
import { buildDtb, dtbToDts, machVirtDtb } from "../../../runtime/guests/arm64/dtb.js";

const RAM = 0x4000_0000;

/** A minimal ELF file: header + program headers (PT_LOAD at paddr) + the segments' bytes. */
function elf(opts: { bits: 32 | 64; machine: number; entry: number; segs: { paddr: number; bytes: number[]; memsz?: number }[] }): Uint8Array {
  const is64 = opts.bits === 64;
  const eh = is64 ? 64 : 52, ph = is64 ? 56 : 32;
  let data = eh + ph * opts.segs.length;
  const out = new Uint8Array(data + opts.segs.reduce((n, s) => n + s.bytes.length, 0));
  const v = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, 1, 1]);
  v.setUint16(16, 2, true);
  v.setUint16(18, opts.machine, true);
  if (is64) {
    v.setBigUint64(24, BigInt(opts.entry), true);
    v.setBigUint64(32, BigInt(eh), true);
    v.setUint16(54, ph, true);
    v.setUint16(56, opts.segs.length, true);
  } else {
    v.setUint32(24, opts.entry, true);
    v.setUint32(28, eh, true);
    v.setUint16(42, ph, true);
    v.setUint16(44, opts.segs.length, true);
  }
  opts.segs.forEach((s, i) => {
    const p = eh + i * ph;
    v.setUint32(p, 1, true);
    if (is64) {
      v.setBigUint64(p + 8, BigInt(data), true);
      v.setBigUint64(p + 24, BigInt(s.paddr), true);
      v.setBigUint64(p + 32, BigInt(s.bytes.length), true);
      v.setBigUint64(p + 40, BigInt(s.memsz ?? s.bytes.length), true);
    } else {
      v.setUint32(p + 4, data, true);
      v.setUint32(p + 12, s.paddr, true);
      v.setUint32(p + 16, s.bytes.length, true);
      v.setUint32(p + 20, s.memsz ?? s.bytes.length, true);
    }
    out.set(s.bytes, data);
    data += s.bytes.length;
  });
  return out;
}

const word = (w: number) => [w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24];
// mov x0, #8 ; movk x0, #0x8400, lsl #16 ; hvc #0 — PSCI SYSTEM_OFF (PSCI 0.2, function 0x84000008).
const SYSTEM_OFF = [...word(0xd2800100), ...word(0xf2b08000), ...word(0xd4000002)];

describe("arm64 images", () => {
  test("raw: at RAM base + 0x80000 (QEMU KERNEL64_LOAD_ADDR), entered at its first byte", () => {
    const p = parseArm64Image(new Uint8Array(SYSTEM_OFF), RAM, "raw.bin");
    expect(p).toMatchObject({ format: "raw", entry: RAM + RAW_IMAGE_OFFSET });
    const m = createMachine("arm64", { guest: { image: new Uint8Array(SYSTEM_OFF) } });
    expect(m.pc).toBe(BigInt(RAM + RAW_IMAGE_OFFSET));
    expect(m.run().message).toMatch(/SYSTEM_OFF/);
  });

  test("a Linux Image: at RAM base + text_offset; image_size 0 means text_offset 0x80000", () => {
    const img = new Uint8Array(64 + 12);
    const v = new DataView(img.buffer);
    img.set(word(0x14000010), 0); // b +0x40 (code0: branch over the header)
    v.setBigUint64(8, 0x20_0000n, true); // text_offset
    v.setBigUint64(16, BigInt(img.length + 4096), true); // image_size (with bss)
    v.setUint32(0x38, 0x644d5241, true); // "ARM\x64"
    img.set(SYSTEM_OFF, 64);
    const p = parseArm64Image(img, RAM, "Image");
    expect(p).toMatchObject({ format: "image", entry: RAM + 0x20_0000 });
    expect(p.segments[0]!.zero).toBe(4096);
    v.setBigUint64(16, 0n, true);
    expect(parseArm64Image(img, RAM, "Image").entry).toBe(RAM + 0x8_0000);
    const m = createMachine("arm64", { guest: { image: img, append: "console=ttyAMA0" } });
    expect(m.run().message).toMatch(/SYSTEM_OFF/);
  });

  test("ELF64: PT_LOAD segments at p_paddr (p_memsz beyond p_filesz cleared), entry e_entry", () => {
    const f = elf({ bits: 64, machine: 183, entry: 0x4010_0000, segs: [{ paddr: 0x4010_0000, bytes: SYSTEM_OFF, memsz: SYSTEM_OFF.length + 64 }] });
    expect(parseArm64Image(f, RAM, "k.elf")).toMatchObject({ format: "elf", entry: 0x4010_0000 });
    const m = createMachine("arm64", { guest: { image: f, fileName: "k.elf" } });
    expect(m.run().message).toMatch(/SYSTEM_OFF/);
  });

  test("bad files: clear errors naming the file and what is wrong", () => {
    expect(() => parseArm64Image(new Uint8Array(0), RAM, "e.bin")).toThrow(/e\.bin is empty/);
    expect(() => parseArm64Image(elf({ bits: 64, machine: 62, entry: 0, segs: [{ paddr: 0, bytes: [0] }] }), RAM, "x.elf")).toThrow(/x\.elf is a 64-bit ELF file for x86-64 \(EM_X86_64\): an arm64 guest is ELF64 for AArch64/);
    expect(() => parseArm64Image(elf({ bits: 32, machine: 183, entry: 0, segs: [] }), RAM, "a.elf")).toThrow(/32-bit ELF/);
    expect(() => parseArm64Image(elf({ bits: 64, machine: 183, entry: 0, segs: [] }), RAM, "n.elf")).toThrow(/no loadable/);
    expect(() => parseArm64Image(elf({ bits: 64, machine: 183, entry: 0, segs: [{ paddr: RAM, bytes: [1, 2, 3, 4] }] }).subarray(0, 100), RAM, "t.elf")).toThrow(/t\.elf is truncated/);
    const outside = elf({ bits: 64, machine: 183, entry: 0x1000, segs: [{ paddr: 0x1000, bytes: SYSTEM_OFF }] });
    expect(() => createMachine("arm64", { guest: { image: outside, fileName: "low.elf" } })).toThrow(/low\.elf: a segment at 0x1000\.\.0x100c is outside guest RAM/);
  });
});

/** An ELF file with only a symbol table (section headers: null, SHT_SYMTAB, its SHT_STRTAB). */
function elfWithSymbols(bits: 32 | 64, syms: { name: string; value: number; info: number; shndx?: number }[]): Uint8Array {
  const wide = bits === 64;
  const eh = wide ? 64 : 52, shent = wide ? 64 : 40, sent = wide ? 24 : 16;
  const names = [0];
  let strtab = "\0";
  for (const sy of syms) (names.push(strtab.length), (strtab += sy.name + "\0"));
  const strOff = eh, symOff = strOff + strtab.length, shOff = symOff + sent * (syms.length + 1);
  const out = new Uint8Array(shOff + 3 * shent);
  const v = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, wide ? 2 : 1, 1, 1]);
  for (let i = 0; i < strtab.length; i++) out[strOff + i] = strtab.charCodeAt(i);
  syms.forEach((sy, i) => {
    const o = symOff + sent * (i + 1);
    v.setUint32(o, names[i + 1]!, true);
    if (wide) (out[o + 4] = sy.info, v.setUint16(o + 6, sy.shndx ?? 1, true), v.setBigUint64(o + 8, BigInt(sy.value), true));
    else (v.setUint32(o + 4, sy.value, true), out[o + 12] = sy.info, v.setUint16(o + 14, sy.shndx ?? 1, true));
  });
  const sh = (i: number, type: number, off: number, size: number, link: number) => {
    const o = shOff + i * shent;
    v.setUint32(o + 4, type, true);
    if (wide) (v.setBigUint64(o + 24, BigInt(off), true), v.setBigUint64(o + 32, BigInt(size), true), v.setUint32(o + 40, link, true));
    else (v.setUint32(o + 16, off, true), v.setUint32(o + 20, size, true), v.setUint32(o + 24, link, true));
  };
  sh(1, 2, symOff, sent * (syms.length + 1), 2);
  sh(2, 3, strOff, strtab.length, 0);
  if (wide) (v.setBigUint64(40, BigInt(shOff), true), v.setUint16(58, shent, true), v.setUint16(60, 3, true));
  else (v.setUint32(32, shOff, true), v.setUint16(46, shent, true), v.setUint16(48, 3, true));
  return out;
}

describe("ELF symbol tables (readElfSymbols; gABI Symbol Table)", () => {
  // st_info: binding << 4 | type (STB_LOCAL 0, STB_GLOBAL 1; STT_OBJECT 1, STT_FUNC 2, STT_FILE 4).
  const syms = [
    { name: "main", value: 0x40_1000, info: 0x12 },
    { name: "helper", value: 0x40_2000, info: 0x02 },
    { name: "helper", value: 0x40_3000, info: 0x12 },
    { name: "helper", value: 0x40_4000, info: 0x02 },
    { name: "cstart.S", value: 0, info: 0x04 },
    { name: "puts", value: 0, info: 0x12, shndx: 0 },
    { name: "table", value: 0x40_8000, info: 0x11 },
  ];
  test.each([32, 64] as const)("ELF%i: defined functions and objects, globals over locals; files and undefined symbols left out", (bits) => {
    expect(readElfSymbols(elfWithSymbols(bits, syms))).toEqual(new Map([["main", 0x40_1000n], ["helper", 0x40_3000n], ["table", 0x40_8000n]]));
  });
  test("no section table, or one past the end of the file: no symbols", () => {
    expect(readElfSymbols(elf({ bits: 32, machine: 3, entry: 0, segs: [{ paddr: 0x40_0000, bytes: [1, 2, 3] }] })).size).toBe(0);
    const f = elfWithSymbols(32, syms);
    expect(readElfSymbols(f.subarray(0, f.length - 8)).size).toBe(0);
  });
});

describe("x86 multiboot kernels", () => {
  // Multiboot header: magic, flags 0, checksum (the three sum to zero), then hlt.
  const MB = [...word(0x1badb002), ...word(0), ...word((-0x1badb002) >>> 0)];
  test("ELF32 with a Multiboot header: segments, entry, EBX = the information structure with the command line", () => {
    const f = elf({ bits: 32, machine: 3, entry: 0x40_000c, segs: [{ paddr: 0x40_0000, bytes: [...MB, 0xf4] }] });
    expect(parseMultibootElf(f, "k")).toMatchObject({ entry: 0x40_000c });
    const m = createMachine("x86_64", { guest: { image: f, append: "a=1 b" } });
    expect(m.pc).toBe(0x40_000cn);
    expect(m.readRegister("ebx")).toBe(BigInt(MULTIBOOT_INFO_ADDRESS));
    const info = m.readPhysical(MULTIBOOT_INFO_ADDRESS, 96);
    const v = new DataView(info.buffer, info.byteOffset);
    expect(v.getUint32(0, true) & 0b1101).toBe(0b1101); // mem, cmdline, mods
    expect(v.getUint32(8, true)).toBe((128 * 1024 * 1024 - 0x10_0000) / 1024);
    const cmd = v.getUint32(16, true);
    // QEMU's multiboot command line is "-kernel FILE" + " " + "-append ARGS" (hw/i386/multiboot.c).
    expect(Buffer.from(m.readPhysical(cmd, 13)).toString("latin1")).toBe("kernel a=1 b\0");
    expect(multibootInfo(128 << 20, "").length).toBe(89);
  });

  test("the command line starts with the kernel's file name, as QEMU's does: kvm-unit-tests' argv[0], the test's arguments after it", () => {
    const f = elf({ bits: 32, machine: 3, entry: 0x40_000c, segs: [{ paddr: 0x40_0000, bytes: [...MB, 0xf4] }] });
    const cmdline = (guest: { fileName?: string; append?: string }) => {
      const m = createMachine("x86_64", { guest: { image: f, ...guest } });
      const at = new DataView(m.readPhysical(MULTIBOOT_INFO_ADDRESS + 16, 4).buffer).getUint32(0, true);
      const bytes = m.readPhysical(at, 64);
      return Buffer.from(bytes.subarray(0, bytes.indexOf(0))).toString("latin1");
    };
    expect(cmdline({ fileName: "vmexit.flat", append: "cpuid" })).toBe("vmexit.flat cpuid");
    // No -append: QEMU's "%s %s" still writes the space.
    expect(cmdline({ fileName: "x86/msr.flat" })).toBe("x86/msr.flat ");
  });

  test("a segment of several pages at an unaligned address, with a .bss of several pages: copied and cleared whole", () => {
    const data = Array.from({ length: 3 * 4096 + 0x123 }, (_, i) => (i * 13 + 5) & 0xff);
    const bss = 2 * 4096 + 0x80;
    const f = elf({ bits: 32, machine: 3, entry: 0x40_080c, segs: [{ paddr: 0x40_0800, bytes: [...MB, 0xf4, ...data], memsz: 13 + data.length + bss }] });
    const m = createMachine("x86_64", { guest: { image: f } });
    expect(m.pc).toBe(0x40_080cn);
    expect([...m.readPhysical(0x40_0800 + 13, data.length)]).toEqual(data);
    const end = 0x40_0800 + 13 + data.length;
    expect(m.readPhysical(end, bss)).toEqual(new Uint8Array(bss));
    // The .bss pages past the data are never written: they read as zero without backing pages.
    expect(m.memory.allocatedPage(end + 4096)).toBeUndefined();
    expect(m.memory.allocatedPage(0x40_3000)).toBeDefined();
    expect(m.run().message).toMatch(/^HLT with interrupts disabled/);
  });

  test("bad files: no Multiboot header, another machine's ELF", () => {
    expect(() => parseMultibootElf(new Uint8Array(64), "z.bin")).toThrow(/z\.bin is not a multiboot kernel/);
    const arm = elf({ bits: 64, machine: 183, entry: 0, segs: [{ paddr: 0x40_0000, bytes: MB }] });
    expect(() => parseMultibootElf(arm, "a.elf")).toThrow(/a\.elf is a 64-bit ELF file for AArch64 \(EM_AARCH64\): a multiboot kernel is ELF32 for x86/);
  });
});

describe("vm boot ARCH image|multiboot \"FILE\" [append \"ARGS\"]", () => {
  test("errors name the file or the word, at its position", async () => {
    const s = await Session.create();
    const err = (src: string) => s.execute(src).find((r) => r.kind === "error") as { name: string; message: string; column: number } | undefined;
    expect(err('vm boot arm64 multiboot "k.flat"')).toMatchObject({ name: "ValueError", column: 25, message: expect.stringMatching(/`multiboot` is not how arm64 guests load/) });
    expect(err('vm boot x86_64 image "k.flat"')).toMatchObject({ name: "ValueError", message: expect.stringMatching(/`image` is not how x86_64 guests load/) });
    expect(err('vm boot arm64 image "no-such.flat" append "x"')).toMatchObject({ name: "FileError", column: 21, message: expect.stringMatching(/cannot read no-such\.flat/) });
  });
});

describe("device trees as dts (show dtb)", () => {
  test("strings, string lists, cells and bytes as dtc writes them; bad blobs refused", () => {
    const dts = dtbToDts(buildDtb({ name: "", props: { model: "x", compatible: "a\0b", reg: [0, 0x4000_0000], raw: new Uint8Array([1, 2, 3]), empty: new Uint8Array(0) }, children: [{ name: "chosen", props: { bootargs: "smp=1" } }] }));
    expect(dts).toBe('/dts-v1/;\n\n/ {\n\tmodel = "x";\n\tcompatible = "a", "b";\n\treg = <0x0 0x40000000>;\n\traw = [01 02 03];\n\tempty;\n\tchosen {\n\t\tbootargs = "smp=1";\n\t};\n};\n');
    expect(dtbToDts(machVirtDtb({ base: RAM, size: 128 << 20 }, { base: 0x900_0000, size: 0x1000 }, "a b"))).toContain('bootargs = "a b";');
    expect(() => dtbToDts(new Uint8Array(64))).toThrow(/not a device tree/);
  });

  test("`show dtb`: the tree the loader gave the guest, with the command line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "exitlab-img-"));
    writeFileSync(join(dir, "off.bin"), new Uint8Array(SYSTEM_OFF));
    const s = await Session.create();
    const r = s.execute('vm boot arm64 image "off.bin" append "console=ttyAMA0"\nshow dtb', { baseDir: dir });
    const table = r.find((x) => x.kind === "table") as { rows: string[][] } | undefined;
    const text = (table?.rows ?? []).map((row) => row[0]).join("\n");
    expect(text).toContain('bootargs = "console=ttyAMA0";');
    expect(text).toContain('stdout-path = "/pl011@9000000";');
  });
});

const KUT = join(__dirname, "../../../../shared/guests/kvm-unit-tests");
describe.skipIf(!existsSync(KUT) && process.env.EXITLAB_REQUIRE_KUT !== "1")("kvm-unit-tests binaries (../shared)", () => {
  test("the corpus is there (EXITLAB_REQUIRE_KUT makes its absence a failure)", () => {
    expect(existsSync(KUT), KUT).toBe(true);
  });

  test("arm64 selftest.flat boots as QEMU boots it and prints its PASS lines (the language's `vm boot arm64 image`)", async () => {
    const s = await Session.create();
    const r = s.execute(`vm boot arm64 image "${join(KUT, "arm64/selftest.flat")}" append "setup smp=1 mem=128" as kut\nset steplimit 100000000\nrun`);
    expect(r.filter((x) => x.kind === "error")).toEqual([]);
    const out = s.current!.machine.console;
    expect(out).toContain("PASS: selftest: setup: smp: number of CPUs matches expectation");
    expect(out).toContain("PASS: selftest: setup: mem: memory size matches expectation");
    expect(out).toContain("SUMMARY: 2 tests");
  });

  // Issue 15: every x86 binary gets through its start-up (cstart64.S: GDT, TSS, paging, long mode,
  // the APIC, SMP set-up) into the test's own code: main(), realmode_start() for realmode.flat.
  const x86Files = existsSync(KUT) ? readdirSync(join(KUT, "x86_64")).filter((f) => f.endsWith(".flat")) : [];
  test.each(x86Files)("x86 %s reaches main() (its ELF symbol table names it)", (file) => {
    const m = createMachine("x86_64", { guest: { image: readFileSync(join(KUT, "x86_64", file)), fileName: file }, settings: { era: "today" } }) as X86Machine;
    const main = m.symbols.get("main") ?? m.symbols.get("realmode_start");
    expect(main, "no main symbol").toBeDefined();
    const r = m.run({ maxSteps: 1_000_000, until: () => m.pc === main });
    expect(r.stop, `${r.message ?? ""} at 0x${m.pc.toString(16)}; console ${JSON.stringify(m.console.slice(-300))}`).toBe("until");
  });

  test("x86 msr.flat loads as a multiboot kernel (entered at e_entry in mode 32)", () => {
    const f = readFileSync(join(KUT, "x86_64/msr.flat"));
    const { entry } = parseMultibootElf(f, "msr.flat");
    const m = createMachine("x86_64", { guest: { image: f, fileName: "msr.flat" } });
    expect(m.pc).toBe(BigInt(entry));
  });
});

describe("guest RAM size (MachineOptions.memoryMiB, `mem N`; QEMU's -m)", () => {
  test("arm64: the RAM region and the device tree's /memory follow it", () => {
    const m = createMachine("arm64", { memoryMiB: 256 });
    const dts = JSON.stringify(m.view("dtb").rows);
    expect(dts).toContain("reg = <0x0 0x40000000 0x0 0x10000000>"); // 256 MiB at 0x4000_0000
    expect(m.memory.isRam(0x4000_0000 + 256 * 1024 * 1024 - 1)).toBe(true);
    expect(m.memory.isRam(0x4000_0000 + 256 * 1024 * 1024)).toBe(false);
    expect(JSON.stringify(createMachine("arm64").view("dtb").rows)).toContain("reg = <0x0 0x40000000 0x0 0x8000000>"); // default 128 MiB
  });

  test("x86: the Multiboot memory fields and RAM follow it", () => {
    const MB = [...word(0x1badb002), ...word(0), ...word((-0x1badb002) >>> 0)];
    const f = elf({ bits: 32, machine: 3, entry: 0x40_000c, segs: [{ paddr: 0x40_0000, bytes: [...MB, 0xf4] }] });
    const m = createMachine("x86_64", { guest: { image: f }, memoryMiB: 512 });
    const info = m.readPhysical(MULTIBOOT_INFO_ADDRESS, 16);
    expect(new DataView(info.buffer, info.byteOffset).getUint32(8, true)).toBe((512 * 1024 * 1024 - 0x10_0000) / 1024); // mem_upper, KiB above 1 MiB
    expect(m.memory.isRam(512 * 1024 * 1024 - 1)).toBe(true);
  });

  test("a size outside 16 MiB .. the arch's maximum is an error, in the API and in the language", async () => {
    expect(() => createMachine("arm64", { memoryMiB: 8 })).toThrow(/guest memory of 8 MiB: arm64 takes 16 to 4096 MiB/);
    expect(() => createMachine("x86_64", { memoryMiB: 4096 })).toThrow(/x86_64 takes 16 to 3072 MiB/);
    const s = await Session.create();
    const err = s.execute('vm boot arm64 image "k.flat" append "x" mem 9999').find((r) => r.kind === "error") as { name: string; message: string; column: number };
    expect(err).toMatchObject({ name: "ValueError", column: 45, message: expect.stringMatching(/guest memory of 9999 MiB: arm64 takes 16 to 4096 MiB/) });
  });
});
