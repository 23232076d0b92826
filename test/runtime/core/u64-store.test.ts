// The u64 stores of the exit columns and the trace pages (core/columns.ts putU64,
// core/trace-pages.ts putU64Words): the number fast paths for BigInts below 2^53 must store the
// halves split64 gives, at every edge (2^32, 2^53, 2^64, negatives wrapping modulo 2^64).

import { describe, expect, test } from "vitest";
import { putU64 } from "../../../runtime/core/columns.js";
import { putU64Words } from "../../../runtime/core/trace-pages.js";
import { split64 } from "../../../runtime/core/bits.js";

const EDGES: bigint[] = [0n, 1n, 0xffn, 0x8000_0000n, 0xffff_ffffn, 0x1_0000_0000n, 0x1_2345_6789n, (1n << 53n) - 1n, 1n << 53n, (1n << 53n) + 1n, (1n << 63n), (1n << 64n) - 1n, -1n, -(1n << 32n), 1n << 64n, (1n << 64n) + 5n];

describe("u64 stores: BigInts below 2^53 take a number path with the same halves", () => {
  test("putU64 (exit columns)", () => {
    for (const v of EDGES) {
      const a = new Uint32Array(4);
      putU64(a, 1, v);
      expect([a[2], a[3]], `${v}`).toEqual(split64(v));
    }
  });

  test("putU64Words (trace pages)", () => {
    for (const v of EDGES) {
      const w = new Uint32Array(4);
      putU64Words(w, 1, v);
      expect([w[1], w[2]], `${v}`).toEqual(split64(v));
    }
  });
});
