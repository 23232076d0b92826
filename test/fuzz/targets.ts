// The fuzz targets: a generator and a property each (test/fuzz/properties.ts). `npm test` runs a
// fixed-seed sample of each (fuzz.test.ts); `npm run fuzz -- --minutes N` runs them longer with
// random seeds (scripts/fuzz.mjs) and saves each failure, shrunk by fast-check, under
// test/fuzz/corpus/ where corpus.test.ts replays it on every run.

import fc from "fast-check";
import { dslProgram, mutatedProgram } from "./dsl-gen.js";
import { checkA64, checkProgram, checkX86 } from "./properties.js";

export interface Target<T> {
  name: string;
  arbitrary: fc.Arbitrary<T>;
  check(input: T): void | Promise<void>;
  /** Inputs per target in the sample `npm test` runs. */
  sample: number;
}

const x86Input = fc.record({
  bytes: fc.array(fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x2e, 0x3e, 0x26, 0x64, 0x65, 0x36, 0x48, 0x41, 0x4f, 0x0f, 0xc4, 0xc5, 0x8f)), { minLength: 1, maxLength: 16 }),
  bits: fc.constantFrom(16 as const, 32 as const, 64 as const),
});

export const TARGETS: Target<never>[] = [
  { name: "dsl-grammar", arbitrary: dslProgram, check: checkProgram, sample: 150 },
  { name: "dsl-mutation", arbitrary: mutatedProgram, check: checkProgram, sample: 30 },
  { name: "a64", arbitrary: fc.integer({ min: 0, max: 0xffff_ffff }), check: checkA64, sample: 400 },
  { name: "x86", arbitrary: x86Input, check: checkX86, sample: 200 },
] as unknown as Target<never>[];
