// scripts/fuzz.mjs (`npm run fuzz`) through its process: its options are checked, it knows every
// target fuzz.test.ts and kernel.test.ts run, and `--target` runs only the targets named.

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { TARGETS } from "./targets.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const fuzz = (...args: string[]) => spawnSync(process.execPath, ["scripts/fuzz.mjs", ...args], { cwd: ROOT, encoding: "utf8", timeout: 170_000 });

describe("npm run fuzz", () => {
  test("an unknown target is an error that lists every target", () => {
    const r = fuzz("--target", "x86,nope");
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('no fuzz target "nope"');
    const listed = /targets: (.*)/.exec(r.stderr)?.[1]?.split(", ");
    expect(listed).toEqual([...TARGETS.map((t) => t.name), "kernel"]);
  });

  test("bad --minutes, --seed and unknown options are errors with the usage", () => {
    for (const args of [["--minutes", "0"], ["--seed", "1.5"], ["--target"], ["--tagret", "x86"]]) {
      const r = fuzz(...args);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toContain("usage: npm run fuzz -- --minutes N");
    }
  });

  test("--target a64 runs that target alone, for all the minutes given", () => {
    const r = fuzz("--minutes", "0.05", "--seed", "7", "--target", "a64");
    expect(r.status, r.stdout.slice(-2000) + r.stderr.slice(-2000)).toBe(0);
    expect(r.stdout).toContain("fuzzing a64 for 0.05 min (3 s per target) from seed 7");
    const counts = r.stdout.slice(r.stdout.indexOf("inputs tried per target")).split("\n").slice(1).filter((l) => l.trim());
    expect(counts).toHaveLength(1);
    expect(counts[0]).toMatch(/^ +a64 +\d+$/);
    expect(Number(counts[0]!.trim().split(/ +/)[1])).toBeGreaterThan(100);
  }, 180_000);
});
