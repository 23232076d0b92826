// Every reproducer the fuzzers saved (test/fuzz/corpus/TARGET-HASH.json) as a regular test: the
// property of its target must hold on its input. Kernel reproducers (kernel-*.json) are replayed
// against the real kernel by kernel.test.ts.

import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { TARGETS } from "./targets.js";

const dir = new URL("./corpus/", import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith(".json") && !f.startsWith("kernel-"));

describe("fuzz corpus", () => {
  test("every saved reproducer names a target", () => {
    for (const f of files) expect(TARGETS.map((t) => t.name), f).toContain(JSON.parse(readFileSync(new URL(f, dir), "utf8")).target);
  });
  for (const f of files) {
    test(f, async () => {
      const { target, input } = JSON.parse(readFileSync(new URL(f, dir), "utf8")) as { target: string; input: never };
      await TARGETS.find((t) => t.name === target)!.check(input);
    });
  }
});
