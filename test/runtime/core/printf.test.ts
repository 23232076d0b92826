import { describe, expect, it } from "vitest";
import { printf } from "../../../runtime/core/printf.js";

describe("printf as the kernel's TP_printk", () => {
  it("'%#08lx' counts the 0x in the width and does not pad wide values", () => {
    expect(printf("%#08lx", [0x40080000n])).toBe("0x40080000");
    expect(printf("%#08lx", [0x7n])).toBe("0x000007");
    expect(printf("hsr %#08lx", [0x92000047])).toBe("hsr 0x92000047");
  });
  it("'%#x' of zero prints 0 as C does", () => {
    expect(printf("%#x", [0])).toBe("0");
  });
  it("'%016lx' pads, '%llx' is bare hex, '%s' and '%d' pass through", () => {
    expect(printf("0x%016lx", [0x400800a0n])).toBe("0x00000000400800a0");
    expect(printf("info %llx %llx", [0x184, 0])).toBe("info 184 0");
    expect(printf("%s=%d", ["a", -5])).toBe("a=-5");
  });
  it("fails loudly on a missing argument", () => {
    expect(() => printf("%x %x", [1])).toThrow(/missing argument/);
  });
});
