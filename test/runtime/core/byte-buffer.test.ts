// The assemblers' growing image (runtime/core/byte-buffer.ts): doubling growth, fills, words.

import { describe, expect, it } from "vitest";
import { ByteBuffer } from "../../../runtime/core/byte-buffer.js";

describe("ByteBuffer", () => {
  it("appends bytes, little-endian words and fills, growing by doubling", () => {
    const b = new ByteBuffer(16);
    b.push([1, 2, 0x1ff]);
    b.pushWord(0xd503201f);
    b.fill(3, 0xaa);
    expect(Array.from(b.bytes())).toEqual([1, 2, 0xff, 0x1f, 0x20, 0x03, 0xd5, 0xaa, 0xaa, 0xaa]);
    b.fill(100, 7);
    expect(b.length).toBe(110);
    expect(b.capacity).toBe(128); // 16 → 32 → 64 → 128
    expect(b.bytes()).toBeInstanceOf(Uint8Array);
    expect(b.bytes().length).toBe(110);
  });
  it("holds 16 MiB of fill with at most twice that allocated", () => {
    const b = new ByteBuffer();
    b.fill(16 << 20, 0);
    expect(b.length).toBe(16 << 20);
    expect(b.capacity).toBeLessThanOrEqual(32 << 20);
  });
});
