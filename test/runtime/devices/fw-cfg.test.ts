// QEMU's fw_cfg through its I/O ports, as kvm-unit-tests' lib/x86/fwcfg.c reads it (QEMU
// docs/specs/fw_cfg.rst: 16-bit selector write to 0x510, byte reads from 0x511).

import { describe, expect, test } from "vitest";
import { createX86Machine, GUEST_RAM_SIZE } from "../../../runtime/x86/machine.js";
import { FwCfg, FW_CFG_KEYS } from "../../../runtime/devices/fw-cfg.js";

describe("fw_cfg", () => {
  test("items read byte by byte after a selector write; absent items and past the end read 0", () => {
    const d = new FwCfg(128 << 20, 1);
    const item = (key: number, n: number) => {
      d.write(0, 2, key);
      return Array.from({ length: n }, () => d.read(1, 1));
    };
    expect(String.fromCharCode(...item(FW_CFG_KEYS.SIGNATURE, 4))).toBe("QEMU");
    expect(item(FW_CFG_KEYS.RAM_SIZE, 9)).toEqual([0, 0, 0, 8, 0, 0, 0, 0, 0]);
    expect(item(FW_CFG_KEYS.NB_CPUS, 2)).toEqual([1, 0]);
    expect(item(0x1234, 2)).toEqual([0, 0]);
  });

  test("a guest reads the CPU count and the RAM size through the ports (exits to the VMM)", () => {
    const src = `
      .code32
    start:
      mov $0x510, %dx
      mov $5, %ax
      out %ax, %dx
      inc %dx
      in %dx, %al
      mov %eax, %esi
      dec %dx
      mov $3, %ax
      out %ax, %dx
      inc %dx
      xor %edi, %edi
      mov $4, %ecx
    1: shl $8, %edi
      in %dx, %al
      movzbl %al, %eax
      or %eax, %edi
      dec %ecx
      jnz 1b
      hlt
    `;
    const m = createX86Machine({ guest: { source: src } });
    m.run();
    expect(m.readRegister("esi") & 0xffn).toBe(1n);
    // The low four bytes of the RAM size, read least significant first (shifted in from the right).
    const b = GUEST_RAM_SIZE;
    const bytes = [b & 0xff, (b >>> 8) & 0xff, (b >>> 16) & 0xff, b >>> 24];
    expect(m.readRegister("edi")).toBe(BigInt(((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0));
  });
});
