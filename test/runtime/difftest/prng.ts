// A small seeded PRNG (mulberry32) for the differential-test program generators: the same seed
// gives the same program on every machine and every run, so a failure names its seed.

export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** Next 32 random bits, as an unsigned number. */
  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** An integer in [lo, hi], both ends included. */
  int(lo: number, hi: number): number {
    return lo + (this.u32() % (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[this.u32() % items.length]!;
  }
  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }
  /** 64 random bits, biased towards the edge values that break ALUs (0, -1, sign bits, small). */
  u64(): bigint {
    return this.rawU64() & 0xffff_ffff_ffff_ffffn;
  }
  private rawU64(): bigint {
    const r = this.u32() % 10;
    const full = (BigInt(this.u32()) << 32n) | BigInt(this.u32());
    switch (r) {
      case 0: return BigInt(this.int(0, 16));
      case 1: return (1n << 64n) - BigInt(this.int(1, 16));
      case 2: return 0x8000_0000_0000_0000n ^ BigInt(this.int(0, 3)) ^ (this.chance(0.5) ? (1n << 64n) - 1n : 0n);
      case 3: return BigInt(this.u32()); // upper half zero
      case 4: return 0xffff_ffff_0000_0000n | BigInt((this.u32() & 0x8000_00ff) >>> 0) | BigInt(this.int(0, 1)) * 0x7fff_ff00n;
      case 5: return BigInt(this.u32() & 0xff) << BigInt(this.int(0, 56));
      default: return full;
    }
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

export const hex = (v: bigint | number): string => "0x" + v.toString(16);
