import { describe, expect, it } from "vitest";
import { GuestMemoryError } from "../../../runtime/core/errors.js";
import { GuestMemory, PAGE_SIZE } from "../../../runtime/core/memory.js";

function ram(size = 16 * PAGE_SIZE, base = 0x10_0000): GuestMemory {
  const m = new GuestMemory();
  m.addRegion({ name: "ram", base, size });
  return m;
}

const pattern = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);

describe("GuestMemory bulk copies", () => {
  it("writeBytes copies across pages, one onWrite per page touched", () => {
    const m = ram();
    const seen: [number, number, number][] = [];
    m.onWrite = (pn, pa, size) => seen.push([pn, pa, size]);
    const at = 0x10_0000 + 0x800;
    const bytes = pattern(3 * PAGE_SIZE + 0x100);
    m.writeBytes(at, bytes);
    expect(m.readBytes(at, bytes.length)).toEqual(bytes);
    expect(m.readBytes(at - 4, 4)).toEqual(new Uint8Array(4));
    expect(seen).toEqual([
      [0x100, at, 0x800],
      [0x101, 0x10_1000, PAGE_SIZE],
      [0x102, 0x10_2000, PAGE_SIZE],
      [0x103, 0x10_3000, 0x900],
    ]);
    for (let i = 0; i < bytes.length; i += 997) expect(m.readByte(at + i)).toBe(bytes[i]);
  });

  it("zero clears written bytes and leaves pages never written unallocated", () => {
    const m = ram();
    m.writeBytes(0x10_0000, pattern(PAGE_SIZE + 16));
    let calls = 0;
    m.onWrite = () => calls++;
    m.zero(0x10_0008, 4 * PAGE_SIZE);
    expect(m.readBytes(0x10_0000, 8)).toEqual(pattern(8));
    expect(m.readBytes(0x10_0008, 4 * PAGE_SIZE)).toEqual(new Uint8Array(4 * PAGE_SIZE));
    expect(m.allocatedBytes).toBe(2 * PAGE_SIZE);
    expect(calls).toBe(5);
  });

  it("a copy past the end of RAM stops at the first byte outside it, with a GuestMemoryError naming it", () => {
    const m = ram(2 * PAGE_SIZE + 0x10);
    expect(() => m.writeBytes(0x10_1ff0, pattern(0x40))).toThrow(GuestMemoryError);
    expect(() => m.writeBytes(0x10_1ff0, pattern(0x40))).toThrow(/0x102010 is not RAM/);
    expect(m.readBytes(0x10_1ff0, 0x20)).toEqual(pattern(0x20));
    expect(() => m.readBytes(0x10_2000, 0x20)).toThrow(/0x102010 is not RAM/);
    expect(() => m.zero(0x0f_fff0, 0x20)).toThrow(/0xffff0 is not RAM/);
  });

  it("the cap holds for bulk writes", () => {
    const m = new GuestMemory({ capBytes: 2 * PAGE_SIZE });
    m.addRegion({ name: "ram", base: 0, size: 16 * PAGE_SIZE });
    expect(() => m.writeBytes(0, pattern(3 * PAGE_SIZE))).toThrow(/cap of 8192 bytes reached writing 0x2000/);
  });
});
