// The x86 vector table (runtime/x86/vectors.ts) against the SDM, and the code that raises, injects
// and compares vectors reading it: no exception is named by a bare number in the x86 runtime.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { doubleFaultClass, ERROR_CODE_VECTORS, EXCEPTION_NAMES, VECTOR, X86_VECTORS } from "../../../runtime/x86/vectors.js";

describe("x86 exception vectors (SDM Vol. 3 Tables 6-1, 6-4)", () => {
  test("vector numbers, mnemonics and error codes", () => {
    expect(VECTOR).toMatchObject({ DE: 0, DB: 1, NMI: 2, BP: 3, UD: 6, DF: 8, TS: 10, NP: 11, SS: 12, GP: 13, PF: 14, AC: 17, XM: 19 });
    expect([...ERROR_CODE_VECTORS].sort((a, b) => a - b)).toEqual([8, 10, 11, 12, 13, 14, 17]);
    expect(EXCEPTION_NAMES[13]).toBe("#GP");
    expect(EXCEPTION_NAMES[2]).toBe("NMI");
    expect(EXCEPTION_NAMES[9]).toBeUndefined(); // reserved since the Intel486
    for (const [name, row] of Object.entries(X86_VECTORS)) expect(row.mnemonic.replace("#", "")).toBe(name);
  });

  test("double-fault classes: #DE, #TS, #NP, #SS, #GP contributory, #PF its own, the rest and interrupts benign", () => {
    expect([0, 10, 11, 12, 13].map(doubleFaultClass)).toEqual(Array(5).fill("contributory"));
    expect(doubleFaultClass(14)).toBe("page-fault");
    expect([1, 2, 3, 6, 7, 16, 17, 18, 19, 32, 255].map(doubleFaultClass)).toEqual(Array(11).fill("benign"));
  });
});

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

describe("the x86 runtime names vectors through the table", () => {
  test("no raise/queueException/GuestFault/deliver with a numeric vector, no `vector === N`", () => {
    const root = new URL("../../../runtime/x86/", import.meta.url).pathname;
    const raw = /\b(?:raise|queueException|deliver)\(\s*\d|new GuestFault\(\s*\d|\bvector\s*[!=]==?\s*\d|\d\s*[!=]==?\s*vector\b/;
    const found = sources(root).flatMap((f) =>
      readFileSync(f, "utf8").split("\n").flatMap((l, i) => (raw.test(l) && !/^\s*(\/\/|\/?\*)/.test(l) ? [`${f.slice(root.length)}:${i + 1}: ${l.trim()}`] : [])),
    );
    expect(found).toEqual([]);
  });
});
