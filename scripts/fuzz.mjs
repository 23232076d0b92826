// `npm run fuzz -- --minutes N [--seed S] [--target NAME[,NAME…]]`: the fuzz targets
// (test/fuzz/targets.ts and the kernel fuzzer), every one or those named, for an equal share of N
// minutes, one after another on one core, from a random seed (or S). Failures are saved, shrunk,
// under test/fuzz/corpus/ (replayed by `npm test` from then on); the inputs tried per target are
// printed at the end.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The targets: fuzz.test.ts's (test/fuzz/targets.ts TARGETS, in that order) and kernel.test.ts's. */
const NAMES = ["dsl-grammar", "dsl-mutation", "a64", "x86", "kernel"];
const USAGE = `usage: npm run fuzz -- --minutes N [--seed S] [--target NAME[,NAME...]]\n  targets: ${NAMES.join(", ")}`;

const args = process.argv.slice(2);
const value = (name) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? "") : undefined;
};
const fail = (why) => {
  console.error(`${why}\n${USAGE}`);
  process.exit(2);
};
const known = new Set(["--minutes", "--seed", "--target"]);
for (let i = 0; i < args.length; i += 2) if (!known.has(args[i])) fail(`unknown option ${args[i]}`);
const minutes = Number(value("minutes") ?? 1);
const seed = Number(value("seed") ?? Math.floor(Math.random() * 2 ** 31));
if (!(minutes > 0)) fail(`--minutes must be a positive number, not ${value("minutes")}`);
if (!Number.isInteger(seed)) fail(`--seed must be an integer, not ${value("seed")}`);
const wanted = value("target") === undefined ? NAMES : value("target").split(",").map((s) => s.trim());
for (const t of wanted) if (!NAMES.includes(t)) fail(`no fuzz target ${JSON.stringify(t)}`);
const targets = NAMES.filter((t) => wanted.includes(t));

const perTarget = Math.floor((minutes * 60_000) / targets.length);
const files = [];
if (targets.some((t) => t !== "kernel")) files.push("test/fuzz/fuzz.test.ts");
if (targets.includes("kernel")) files.push("test/fuzz/kernel.test.ts");
const dir = mkdtempSync(join(tmpdir(), "exitlab-fuzz-"));
const stats = join(dir, "stats.jsonl");
console.log(`fuzzing ${targets.join(", ")} for ${minutes} min (${Math.round(perTarget / 1000)} s per target) from seed ${seed}`);
const r = spawnSync("npx", ["vitest", "run", ...files, "--maxWorkers=1", "--no-file-parallelism"], {
  stdio: "inherit",
  env: { ...process.env, EXITLAB_FUZZ_MS: String(perTarget), EXITLAB_FUZZ_SEED: String(seed), EXITLAB_FUZZ_STATS: stats, EXITLAB_FUZZ_TARGETS: targets.join(",") },
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
