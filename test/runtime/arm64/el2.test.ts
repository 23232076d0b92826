// HCR_EL2's bits as the table names them (Arm ARM D23.2.48): masks by name, a computed name
// checked at run time, and a misspelt name in code a compile error (tsconfig.test.json type-checks
// this file in `npm run lint`).

import { describe, expect, test } from "vitest";
import { HCR_BITS, hcr, hcrByName, hcrNames } from "../../../runtime/arm64/el2.js";

describe("HCR_EL2 bits by name", () => {
  test("masks from the table: single bits and multi-bit fields", () => {
    expect(hcr("VM")).toBe(1n);
    expect(hcr("IMO")).toBe(1n << 4n);
    expect(hcr("TWEDEL")).toBe(0xfn << 60n); // bits 63:60
    expect(hcrNames(hcr("VM") | hcr("TSC"))).toEqual(["VM", "TSC"]);
    for (const b of HCR_BITS) expect(hcrByName(b.name)).toBe(((1n << BigInt(b.width ?? 1)) - 1n) << BigInt(b.bit));
  });

  test("a name not in the table: an error at run time, and in code a compile error", () => {
    expect(() => hcrByName("TVMX")).toThrow(/no HCR_EL2 bit TVMX/);
    // @ts-expect-error TVMX is not an HCR_EL2 field
    expect(() => hcr("TVMX")).toThrow(/no HCR_EL2 bit TVMX/);
  });
});
