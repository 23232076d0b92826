// Linux bzImages loaded as QEMU's -kernel loads them (hw/i386/x86.c, x86_load_linux) and entered
// by Linux's 64-/32-bit boot protocol (Documentation/arch/x86/boot.rst): the synthetic kernel of
// bzimage-fixture.ts reads struct boot_params and prints it; bad files are refused by name.

import { describe, expect, test } from "vitest";
import { createMachine } from "../../../runtime/index.js";
import { parseBzImage, SETUP_HEADER } from "../../../runtime/x86/bzimage.js";
import { makeBzImage } from "./bzimage-fixture.js";

const boot = (image: Uint8Array, extra: { append?: string; initrd?: Uint8Array; memoryMiB?: number } = {}) => {
  const { memoryMiB, ...g } = extra;
  return createMachine("x86_64", { guest: { image, format: "bzimage", fileName: "bz", ...g }, ...(memoryMiB ? { memoryMiB } : {}) });
};

describe("x86 bzImage", () => {
  test("the setup header table follows boot.rst: fields in order, no overlaps, ending at 0x26c (protocol 2.15)", () => {
    for (let i = 1; i < SETUP_HEADER.length; i++) expect(SETUP_HEADER[i]!.offset).toBe(SETUP_HEADER[i - 1]!.offset + SETUP_HEADER[i - 1]!.size);
    const last = SETUP_HEADER.at(-1)!;
    expect(last.offset + last.size).toBe(0x26c);
    const h = parseBzImage(makeBzImage(), "bz");
    expect(h).toMatchObject({ protocol: 0x020f, setupSize: 1024, entry64: true });
    expect(h.header).toMatchObject({ header: 0x53726448n, cmdline_size: 2047n, init_size: 0x100000n, pref_address: 0x1000000n, kernel_alignment: 0x200000n, relocatable_kernel: 1n, boot_flag: 0xaa55n });
    // setup_sects 0 means 4 (boot.rst).
    expect(parseBzImage(makeBzImage({ setupSects: 0 }), "bz").setupSize).toBe(5 * 512);
  });

  test("64-bit boot protocol: startup_64 at 0x100200 with RSI = boot_params; the kernel reads the header, command line, initrd and e820 map", () => {
    const m = boot(makeBzImage(), { append: "console=ttyS0 quiet", initrd: new TextEncoder().encode("RAMDISK\n") });
    expect(m.pc).toBe(0x100200n);
    expect(m.readRegister("rsi")).toBe(0x10000n);
    m.run();
    const ramdisk = (((128 << 20) - 0x8000 - 1 - 8) & ~4095) >>> 0;
    expect(m.console).toBe([
      "boot_params 0x10000",
      "cs 0x10",
      "ds 0x18",
      "version 0x20f",
      "type_of_loader 0xb0",
      "kernel_alignment 0x200000",
      "cmd_line_ptr 0x20000",
      "cmdline console=ttyS0 quiet",
      `ramdisk_image 0x${ramdisk.toString(16)}`,
      "ramdisk_size 0x8",
      "RAMDISK",
      "e820_entries 0x3",
      "e820 0x0 0xa0000 0x1",
      `e820 0x100000 0x${((128 << 20) - 0x8000 - 0x100000).toString(16)} 0x1`,
      `e820 0x${((128 << 20) - 0x8000).toString(16)} 0x8000 0x2`,
      "",
    ].join("\n"));
    expect((m as unknown as { debugExit: { written: unknown } }).debugExit.written).toMatchObject({ value: 0x64 });
  });

  test("the e820 map and the initrd follow `mem`; initrd_addr_max caps the initrd", () => {
    const m = boot(makeBzImage({ initrdAddrMax: 0x37ff_ffff }), { memoryMiB: 1024, initrd: new Uint8Array(5000).fill(0x41) });
    m.run();
    expect(m.console).toContain(`ramdisk_image 0x${((0x37ff_ffff - 5000) & ~4095).toString(16)}\n`);
    expect(m.console).toContain(`e820 0x100000 0x${((1024 << 20) - 0x8000 - 0x100000).toString(16)} 0x1\n`);
  });

  test("32-bit boot protocol for a kernel without XLF_KERNEL_64 (or older than 2.12): the load address, ESI = boot_params, paging off", () => {
    for (const image of [makeBzImage({ xloadflags: 0 }), makeBzImage({ protocol: 0x020a })]) {
      const m = boot(image, { append: "root=/dev/vda" });
      expect(m.pc).toBe(0x100000n);
      expect(m.readRegister("esi")).toBe(0x10000n);
      expect(m.readRegister("ebx")).toBe(0n);
      expect(m.readRegister("cr0") & 0x8000_0000n).toBe(0n);
      m.run();
      expect(m.console).toBe("32-bit entry, cmdline: root=/dev/vda\n");
    }
  });

  test("bad files are refused naming the file and what is wrong", () => {
    const err = (image: Uint8Array, extra = {}) => {
      try {
        boot(image, extra);
      } catch (e) {
        return (e as Error).message + " | " + ((e as { hint?: string }).hint ?? "");
      }
      return "booted";
    };
    expect(err(new Uint8Array(4096))).toMatch(/^bz is not a bzImage: no setup header \("HdrS" at 0x202\)/);
    expect(err(makeBzImage({ magic: 0 }))).toMatch(/not a bzImage/);
    expect(err(new Uint8Array(0))).toMatch(/bz is empty/);
    expect(err(makeBzImage().subarray(0, 0x100))).toMatch(/bz is not a bzImage/);
    expect(err(new Uint8Array(6))).toMatch(/bz is not a bzImage \(or is truncated\): 6 bytes, and a bzImage's setup header alone reaches 0x206/);
    expect(err(makeBzImage().subarray(0, 0x300))).toMatch(/bz is truncated: 768 bytes, no protected-mode kernel after its 1024-byte setup/);
    expect(err(makeBzImage().subarray(0, 1200))).toMatch(/bz is truncated: its protected-mode kernel is 176 bytes, syssize says \d+/);
    expect(err(makeBzImage({ protocol: 0x0204 }))).toMatch(/bz speaks boot protocol 2\.04, older than 2\.06 \| exitlab loads kernels with boot protocol 2\.06 or later/);
    expect(err(makeBzImage({ loadflags: 0 }))).toMatch(/bz is a zImage/);
    // Another architecture's kernel, a vmlinux, a multiboot ELF.
    const arm = new Uint8Array(4096);
    new DataView(arm.buffer).setUint32(0x38, 0x644d5241, true);
    expect(err(arm)).toMatch(/bz is an arm64 Linux Image, not an x86 bzImage \| boot it with `vm boot arm64 image/);
    const elf = (machine: number) => Uint8Array.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, ...new Array(9).fill(0), 2, 0, machine, 0, ...new Array(600).fill(0)]);
    expect(err(elf(62))).toMatch(/bz is an x86-64 ELF file \(a vmlinux\?\), not a bzImage/);
    expect(err(elf(3))).toMatch(/bz is an x86 ELF file, not a bzImage.*\| a multiboot ELF kernel boots with `vm boot x86_64 multiboot/);
    // Placement: init_size past RAM, a command line past cmdline_size, an initrd that does not fit.
    expect(err(makeBzImage({ initSize: 200 << 20 }))).toMatch(/bz needs 209715200 bytes from 0x100000 \(its init_size\), more than the guest's 128 MiB of RAM leave \| give the guest at least `mem 202` \(MiB\)/);
    expect(err(makeBzImage({ cmdlineSize: 4 }), { append: "quiet" })).toMatch(/the command line is 5 bytes; bz takes at most 4 \(its setup header's cmdline_size\)/);
    expect(err(makeBzImage({ initrdAddrMax: 0x180000 }), { initrd: new Uint8Array(4096) })).toMatch(/the initrd \(4096 bytes\) does not fit between bz \(to 0x200000\) and the initrd's highest address 0x180000/);
    expect(err(makeBzImage(), { initrd: new Uint8Array(0) })).toMatch(/the initrd is empty/);
    // The arm64 machine refuses the format.
    expect(() => createMachine("arm64", { guest: { image: makeBzImage(), format: "bzimage" } })).toThrow(/arm64 boots no `bzimage` format/);
  });
});
