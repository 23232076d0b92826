// The fuzzers. Without EXITLAB_FUZZ_MS: a fixed-seed sample of each target (part of `npm test`).
// With it (scripts/fuzz.mjs): each target runs for that many milliseconds from EXITLAB_FUZZ_SEED;
// a failure is shrunk to a minimal input and saved as test/fuzz/corpus/TARGET-HASH.json, which
// corpus.test.ts then replays as a regular test. Counts of inputs tried go to EXITLAB_FUZZ_STATS;
// EXITLAB_FUZZ_TARGETS (comma-separated names) limits the run to those targets.

import { createHash } from "node:crypto";
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { TARGETS } from "./targets.js";

const ms = Number(process.env.EXITLAB_FUZZ_MS ?? 0);
const seed = Number(process.env.EXITLAB_FUZZ_SEED ?? 19);
const CORPUS = new URL("./corpus/", import.meta.url);
const only = process.env.EXITLAB_FUZZ_TARGETS?.split(",");

describe(ms ? `fuzzing for ${ms} ms per target from seed ${seed}` : "fuzz sample (fixed seed)", () => {
  for (const t of TARGETS) {
    test.skipIf(only !== undefined && !only.includes(t.name))(t.name, async () => {
      const property = fc.asyncProperty(t.arbitrary, async (input) => {
        await t.check(input);
      });
      const r = await fc.check(property, {
        seed,
        numRuns: ms ? Number.MAX_SAFE_INTEGER : t.sample,
        ...(ms ? { interruptAfterTimeLimit: ms, markInterruptAsFailure: false } : {}),
        endOnFailure: false,
      });
      const tried = r.numRuns + r.numSkips;
      if (process.env.EXITLAB_FUZZ_STATS) appendFileSync(process.env.EXITLAB_FUZZ_STATS, JSON.stringify({ target: t.name, inputs: tried, failed: r.failed, seed }) + "\n");
      if (r.failed) {
        const input = r.counterexample![0];
        const json = JSON.stringify({ target: t.name, input, seed, found: r.errorInstance instanceof Error ? r.errorInstance.message.slice(0, 2000) : String(r.errorInstance) }, null, 1);
        const name = `${t.name}-${createHash("sha256").update(JSON.stringify(input)).digest("hex").slice(0, 12)}.json`;
        if (ms) {
          mkdirSync(CORPUS, { recursive: true });
          writeFileSync(new URL(name, CORPUS), json + "\n");
        }
        expect.fail(`${t.name}: ${tried} inputs, failed on ${JSON.stringify(input).slice(0, 500)}${ms ? ` (saved as test/fuzz/corpus/${name})` : ""}\n${json.slice(0, 3000)}`);
      }
    }, ms ? ms + 120_000 : 120_000);
  }
});
