// The storage of one VM's trace: events packed one after another into pages of 32-bit words,
// the way ftrace's ring buffer packs its entries, instead of one row per event in several column
// sets. An event is one record: a header (tracepoint kind, step, cycles) and its fields at offsets
// fixed by its tracepoint's declaration, so the emitter generated for a tracepoint writes it with
// one bounds test and constant-offset stores: no per-event object, no per-field lookup.
//
// Record layout (offsets in words; every record starts at an even word, so f64s stay aligned):
//   0 kind · 1 (unused) · 2–3 step (f64) · 4–5 cycles (f64) · then the fields: `num` as f64 first,
//   then `u64` as two words (low, high), then `u32`/`bool`/`str` as one word; padded to even.
// An event without declared fields keeps a copy of its fields object in the page's `refs`, its
// index at word 6.
//
// Pages start small (a small machine stays small) and double up to PAGE_WORDS; the oldest pages
// are dropped (and reused) once every event in them is older than the newest `cap` events.

import { join64, split64 } from "./bits.js";
import type { FieldValue, TraceField } from "./trace.js";

/** Words in a full page (4 MiB). */
export const PAGE_WORDS = 1 << 20;
/** Words in the first page. */
const FIRST_PAGE_WORDS = 1 << 10;
/** Header words of every record. */
export const HEADER_WORDS = 6;

/** One page: the words, an f64 view of them, and where each of its events starts. */
export interface TracePage {
  readonly w: Uint32Array;
  readonly d: Float64Array;
  /** Word offset of the page's i-th event. */
  readonly offs: Uint32Array;
  /** Fields objects of events without declared fields. */
  readonly refs: unknown[];
  /** Sequence number of the page's first event. */
  seq0: number;
  /** Events in the page. */
  n: number;
}

function newPage(words: number): TracePage {
  const buf = new ArrayBuffer(words * 4);
  return { w: new Uint32Array(buf), d: new Float64Array(buf), offs: new Uint32Array(Math.ceil(words / HEADER_WORDS)), refs: [], seq0: 0, n: 0 };
}

/** Where a field lives in its tracepoint's records, and how it is read back. */
export interface FieldSlot {
  readonly name: string;
  readonly type: TraceField["type"];
  /** Word offset from the record's start. */
  readonly off: number;
}

/** A tracepoint's record: its field slots and size in words (even). */
export interface RecordLayout {
  readonly slots: readonly FieldSlot[];
  readonly words: number;
}

const WIDTH: Record<TraceField["type"], number> = { num: 2, u64: 2, u32: 1, bool: 1, str: 1 };
const ORDER: Record<TraceField["type"], number> = { num: 0, u64: 1, u32: 2, bool: 2, str: 2 };

/** The record layout of a tracepoint's declared fields (`undefined`: a record holding one ref). */
export function recordLayout(fields: readonly TraceField[] | undefined): RecordLayout {
  if (!fields) return { slots: [], words: HEADER_WORDS + 2 };
  let off = HEADER_WORDS;
  // Stable by kind of slot: f64s first (aligned), then pairs, then single words.
  const sorted = fields.map((f, i) => ({ f, i })).sort((a, b) => ORDER[a.f.type] - ORDER[b.f.type] || a.i - b.i);
  const slots: FieldSlot[] = new Array(fields.length);
  for (const { f, i } of sorted) {
    slots[i] = { name: f.name, type: f.type, off };
    off += WIDTH[f.type];
  }
  return { slots, words: off + (off & 1) };
}

/** Stores a u64 value that is not a non-negative safe integer (BigInt, negative: modulo 2^64). */
export function putU64Words(w: Uint32Array, o: number, v: bigint | number): void {
  if (typeof v === "number" && v >= 0) {
    w[o] = v >>> 0;
    w[o + 1] = (v / 4294967296) >>> 0;
    return;
  }
  if (typeof v === "bigint" && v >= 0n && v <= 0x1f_ffff_ffff_ffffn) {
    // A BigInt below 2^53 (an MSR's data, most of them): exact as a number, no BigInt arithmetic.
    const n = Number(v);
    w[o] = n >>> 0;
    w[o + 1] = (n / 4294967296) >>> 0;
    return;
  }
  const [lo, hi] = split64(typeof v === "bigint" ? v : BigInt(Math.trunc(v)));
  w[o] = lo;
  w[o + 1] = hi;
}

/**
 * The pages of one trace, with the write cursor the generated emitters use (`w`, `d`, `offs`,
 * `pos`, `end`, `n`: the current page's views, next free word, its size, its event count).
 */
export class TracePages {
  /** Current page's words, f64 view and event offsets (emitters write through these; bind() sets them). */
  w!: Uint32Array;
  d!: Float64Array;
  offs!: Uint32Array;
  refs!: unknown[];
  /** Next free word of the current page, and its size in words. */
  pos = 0;
  end = 0;
  /** Events in the current page. */
  n = 0;
  /** Pages, oldest first; the last is the current one. */
  private pages: TracePage[] = [];
  private spare: TracePage | null = null;
  /** Events older than this are never seen again (a cap once lowered). */
  private floor = 0;

  constructor(public cap: number) {
    this.clear();
  }

  /** Make `p` (appended to `pages`) the page emitters write, from its start. */
  private bind(p: TracePage): void {
    this.pages.push(p);
    this.w = p.w;
    this.d = p.d;
    this.offs = p.offs;
    this.refs = p.refs;
    this.pos = 0;
    this.end = p.w.length;
    this.n = 0;
  }

  private get current(): TracePage {
    return this.pages[this.pages.length - 1]!;
  }

  /** Events stored in all (kept, hidden and dropped). */
  get total(): number {
    return this.current.seq0 + this.n;
  }

  /** Sequence number of the oldest kept event. */
  get first(): number {
    return Math.max(this.floor, this.pages[0]!.seq0, this.total - this.cap);
  }

  /**
   * A fresh page for a record of `words` words; returns the word to write it at (0). Emitters
   * call it when the current page has no room. Pages whose events are all older than the newest
   * `cap` are dropped here (the full-sized ones kept for reuse).
   */
  nextPage(words: number): number {
    const cur = this.current;
    cur.n = this.n;
    const size = Math.min(PAGE_WORDS, Math.max(cur.w.length * 2, words * 2));
    let p: TracePage;
    if (size === PAGE_WORDS && this.spare) (p = this.spare), (this.spare = null);
    else p = newPage(size);
    p.seq0 = cur.seq0 + cur.n;
    p.n = 0;
    p.refs.length = 0;
    this.bind(p);
    this.dropPages();
    return 0;
  }

  /** Drops the oldest pages none of whose events is kept. */
  private dropPages(): void {
    const first = this.first;
    while (this.pages.length > 1) {
      const p = this.pages[0]!;
      if (p.seq0 + p.n > first) break;
      this.pages.shift();
      if (p.w.length === PAGE_WORDS) this.spare = p;
    }
  }

  /** Lowers or raises the cap; events hidden by a lower cap stay hidden. */
  setCap(cap: number): void {
    this.floor = this.first;
    this.cap = cap;
    this.current.n = this.n;
    this.dropPages();
  }

  /** The page holding event `seq` (a kept one) and the event's index in it. */
  locate(seq: number): [TracePage, number] {
    this.current.n = this.n;
    const pages = this.pages;
    let lo = 0;
    let hi = pages.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (pages[mid]!.seq0 <= seq) lo = mid;
      else hi = mid - 1;
    }
    const p = pages[lo]!;
    return [p, seq - p.seq0];
  }

  /** Kind of event `seq`. */
  kindAt(seq: number): number {
    const [p, i] = this.locate(seq);
    return p.w[p.offs[i]!]!;
  }

  /** Empties the trace; sequence numbers start again from 0. */
  clear(): void {
    this.pages = [];
    this.spare = null;
    this.floor = 0;
    this.bind(newPage(FIRST_PAGE_WORDS));
  }
}

/** The fields of the record at word `o` of page `p`, by its layout (`strings`: the interned str fields). */
export function readFields(p: TracePage, o: number, layout: RecordLayout, declared: boolean, strings: readonly string[]): Record<string, FieldValue> {
  if (!declared) return { ...(p.refs[p.w[o + HEADER_WORDS]!] as Record<string, FieldValue>) };
  const fields: Record<string, FieldValue> = {};
  const w = p.w;
  for (const s of layout.slots) {
    const at = o + s.off;
    switch (s.type) {
      case "u64": fields[s.name] = join64(w[at]!, w[at + 1]!); break;
      case "num": fields[s.name] = p.d[at >> 1]!; break;
      case "u32": fields[s.name] = w[at]!; break;
      case "bool": fields[s.name] = w[at] === 1; break;
      case "str": fields[s.name] = strings[w[at]!]!; break;
    }
  }
  return fields;
}
