// A growing byte image for the assemblers: a Uint8Array whose capacity doubles as bytes are
// appended, so a 16 MiB `.space` is one fill of typed memory (not 16 Mi pushes onto a number[]).

/** Append-only bytes with amortised O(1) growth; `bytes()` returns a copy of exactly `length` bytes. */
export class ByteBuffer {
  private buf: Uint8Array;
  private len = 0;

  constructor(initialCapacity = 4096) {
    this.buf = new Uint8Array(Math.max(16, initialCapacity));
  }

  get length(): number {
    return this.len;
  }

  /** Bytes of backing store currently allocated (for tests of the growth policy). */
  get capacity(): number {
    return this.buf.length;
  }

  private reserve(extra: number): void {
    const need = this.len + extra;
    if (need <= this.buf.length) return;
    let cap = this.buf.length;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  /** Append bytes (each taken modulo 256). */
  push(bytes: ArrayLike<number>): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  /** Append one little-endian 32-bit word. */
  pushWord(word: number): void {
    this.reserve(4);
    const b = this.buf;
    b[this.len] = word & 0xff;
    b[this.len + 1] = (word >>> 8) & 0xff;
    b[this.len + 2] = (word >>> 16) & 0xff;
    b[this.len + 3] = (word >>> 24) & 0xff;
    this.len += 4;
  }

  /** Append `count` copies of the byte `value`. */
  fill(count: number, value: number): void {
    this.reserve(count);
    this.buf.fill(value & 0xff, this.len, this.len + count);
    this.len += count;
  }

  /** The image so far, as a right-sized copy. */
  bytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}
