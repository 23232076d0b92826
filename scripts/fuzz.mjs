// `npm run fuzz -- --minutes N [--seed S]`: every fuzz target (test/fuzz/targets.ts and the kernel
// fuzzer) for its share of N minutes, one after another on one core, from a random seed (or S).
// Failures are saved, shrunk, under test/fuzz/corpus/ (replayed by `npm test` from then on); the
// inputs tried per target are printed at the end.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : fallback;
};
const minutes = opt("minutes", 1);
const seed = opt("seed", Math.floor(Math.random() * 2 ** 31));
if (!(minutes > 0) || !Number.isInteger(seed)) {
  console.error("usage: npm run fuzz -- --minutes N [--seed S]");
  process.exit(2);
}
const TARGETS = 5; // dsl-grammar, dsl-mutation, a64, x86, kernel
const perTarget = Math.floor((minutes * 60_000) / TARGETS);
const dir = mkdtempSync(join(tmpdir(), "exitlab-fuzz-"));
const stats = join(dir, "stats.jsonl");
console.log(`fuzzing ${minutes} min (${Math.round(perTarget / 1000)} s per target) from seed ${seed}`);
const r = spawnSync("npx", ["vitest", "run", "test/fuzz/fuzz.test.ts", "test/fuzz/kernel.test.ts", "--maxWorkers=1", "--no-file-parallelism"], {
  stdio: "inherit",
  env: { ...process.env, EXITLAB_FUZZ_MS: String(perTarget), EXITLAB_FUZZ_SEED: String(seed), EXITLAB_FUZZ_STATS: stats },
});
let lines = [];
try {
  lines = readFileSync(stats, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
} catch {
  /* no target ran */
}
rmSync(dir, { recursive: true, force: true });
console.log("\ninputs tried per target (seed " + seed + "):");
for (const l of lines) console.log(`  ${l.target.padEnd(14)} ${String(l.inputs).padStart(10)}${l.failed ? "  FAILED (reproducer in test/fuzz/corpus/)" : ""}`);
process.exit(r.status ?? 1);
