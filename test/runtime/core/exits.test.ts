// Exits kept in columns: the cap drops the oldest, counts and cycles by reason stay exact, exits
// are built when read and follow the store while kept; both machines' schemas give the fields.

import { describe, expect, test } from "vitest";
import { createMachine } from "../../../runtime/index.js";
import { CHUNK_MASK, CHUNK_ROWS, Columns, getU64, putU64 } from "../../../runtime/core/columns.js";
import { ExitStore, type ExitSchema } from "../../../runtime/core/exits.js";

const HVC_LOOP = (n: number) => `
_start:
	ldr x19, =${n}
1:	ldr x0, =0x84000000
	hvc #0
	subs x19, x19, #1
	b.ne 1b
	ldr x0, =0x84000008
	hvc #0
`;
const CPUID_LOOP = (n: number) => `
	.code32
start:
	mov $${n}, %esi
1:	xor %eax, %eax
	cpuid
	dec %esi
	jnz 1b
	mov $0xf4, %dx
	out %al, %dx
`;

describe("Columns", () => {
  test("a window over appended rows, in chunks reused once dropped", () => {
    for (const keep of [7, CHUNK_ROWS + 5]) {
      const c = new Columns(["f64", "u64", "ref"], 4);
      const n = 3 * CHUNK_ROWS + 100;
      for (let i = 0; i < n; i++) {
        const r = c.push();
        expect(r).toBe(i);
        const a = c.chunk(r);
        (a[0] as Float64Array)[r & CHUNK_MASK] = i;
        putU64(a[1]!, r & CHUNK_MASK, BigInt(i) << 40n);
        (a[2] as Uint32Array)[r & CHUNK_MASK] = c.refId({ i });
        if (c.count > keep) c.dropFront(1);
      }
      expect(c.count).toBe(keep);
      expect(c.first).toBe(n - keep);
      expect(c.total).toBe(n);
      for (let r = n - keep; r < n; r++) {
        const a = c.chunk(r);
        expect((a[0] as Float64Array)[r & CHUNK_MASK]).toBe(r);
        expect(getU64(a[1]!, r & CHUNK_MASK)).toBe(BigInt(r) << 40n);
        expect((c.refAt((a[2] as Uint32Array)[r & CHUNK_MASK]!) as { i: number }).i).toBe(r);
      }
      expect(c.has(n - keep - 1)).toBe(false);
    }
  });
});

describe("exit store", () => {
  test("arm64: the cap keeps the newest exits, counts and cycles by reason stay exact", () => {
    const full = createMachine("arm64", { guest: { source: HVC_LOOP(500) } });
    const capped = createMachine("arm64", { guest: { source: HVC_LOOP(500) }, exitCap: 10, traceCapEvents: 25 });
    full.run();
    capped.run();
    expect(capped.exits.total).toBe(full.exits.total);
    expect(capped.exits.length).toBe(10);
    expect(capped.exits.dropped).toBe(full.exits.total - 10);
    expect(capped.exits.byReason()).toEqual(full.exits.byReason());
    expect(capped.exits.byReason()).toEqual([...full.exits].reduce((rows, e) => {
      const r = rows.find((x) => x.reason === e.reason) ?? rows[rows.push({ reason: e.reason, count: 0, cycles: 0 }) - 1]!;
      r.count++;
      r.cycles += e.cycles;
      return rows;
    }, [] as { reason: string; count: number; cycles: number }[]));
    expect(capped.exits.at(0)!.index).toBe(full.exits.total - 10);
    const json = (e: unknown) => (e as { toJSON(): unknown }).toJSON();
    expect(json(capped.exits.at(-1))).toEqual(json(full.exits.at(-1)));
    expect(capped.exits.byIndex(0)).toBeUndefined();
    expect(capped.trace.length).toBe(25);
    expect(capped.trace.lines()).toEqual(full.trace.lines().slice(-25));
    expect(capped.trace.dropped).toBe(full.trace.total - 25);
    // A lower cap applies at once; a setting of the machine.
    capped.set("exitCap", 3);
    expect(capped.exits.length).toBe(3);
    expect(() => capped.set("exitCap", 0)).toThrow(/exitCap/);
  });

  test("arm64: the fields of an HVC exit, from the schema, built when read", () => {
    const m = createMachine("arm64", { guest: { source: HVC_LOOP(2) } });
    m.run({ stopOnExit: (e) => e.reason === "HVC64" });
    const e = m.pendingExit!;
    expect(e.info).toMatchObject({ esr: 0x5a000000n, "esr.ec": 0x16n, "esr.ec.name": "HVC64", "esr.iss.imm16": 0n, x0: 0x84000000n, instruction: "hvc #0x0" });
    expect(Object.keys(e.info).filter((k) => k.startsWith("cost.")).reduce((a, k) => a + Number(e.info[k]), 0)).toBe(e.cycles);
    expect(m.view("exit").title).toBe(`exit #${e.index} (pending)`);
  });

  test("x86: the fields of a CPUID exit and a capped run", () => {
    const m = createMachine("x86_64", { guest: { source: CPUID_LOOP(300) }, exitCap: 5 });
    m.run();
    expect(m.halted).not.toBeNull();
    expect(m.exits.length).toBe(5);
    const counts = Object.fromEntries(m.exits.byReason().map((r) => [r.reason, r.count]));
    expect(counts.CPUID).toBe(300);
    const cpuid = m.exits.find((e) => e.reason === "CPUID")!;
    expect(cpuid.info).toMatchObject({ exit_reason: "CPUID", exit_qualification: 0n, instruction_length: 2, instruction: "cpuid" });
    // Leaf 0 EAX: the highest basic leaf KVM's table provides, 0xb (runtime/x86/kvm/cpuid.ts; SDM Vol. 2 CPUID leaf 0).
    expect(m.trace.lines("2015", ["kvm_cpuid"]).at(-1)).toBe("kvm_cpuid: func 0 rax b rbx 756e6547 rcx 6c65746e rdx 49656e69");
  });
});

describe("ref columns", () => {
  // A ref column stores ids into the store's table (a number per exit, not a pointer).
  const schema: ExitSchema = { arch: "x86_64", pcName: "rip", codeText: String, columns: [{ name: "obj", type: "ref" }], reasonName: () => "X", fields: () => [], cost: () => [] };
  const put = (store: ExitStore, o: unknown): number => {
    const index = store.record(0, 0, 0, 1, 0, 0);
    (store.chunk(index)[store.colIndex.get("obj")!] as Uint32Array)[index & CHUNK_MASK] = store.refId(o);
    return index;
  };

  test("an exit reads back the object it was given; the same object gets the same id", () => {
    const store = new ExitStore(schema);
    const a = { name: "a" }, b = { name: "b" };
    const ia = put(store, a), ib = put(store, b), ia2 = put(store, a), none = put(store, undefined);
    expect(store.row(ia).ref("obj")).toBe(a);
    expect(store.row(ib).ref("obj")).toBe(b);
    expect(store.row(ia2).ref("obj")).toBe(a);
    expect(store.row(none).ref("obj")).toBeUndefined();
    expect(store.refId(a)).toBe(store.refId(a));
    expect(store.refId(a)).not.toBe(store.refId(b));
  });

  test("the table is bounded: past two epochs of 65,536 objects the oldest exits lose theirs, newer ones keep them", () => {
    const store = new ExitStore(schema);
    const objs = Array.from({ length: 3 * 65536 }, (_, i) => ({ i }));
    const idx = objs.map((o) => put(store, o));
    expect(store.row(idx[0]!).ref("obj")).toBeUndefined();
    expect(store.row(idx[65535]!).ref("obj")).toBeUndefined();
    expect(store.row(idx[65536]!).ref("obj")).toBe(objs[65536]);
    expect(store.row(idx.at(-1)!).ref("obj")).toBe(objs.at(-1));
    store.clear();
    expect(store.refAt(store.refId(objs[0]))).toBe(objs[0]);
  });
});

describe("u64 columns", () => {
  test("a chunk whose first column is u64 is reused once dropped, as any other", () => {
    for (const types of [["u64", "u32"], ["u32", "u64"]] as const) {
      const c = new Columns([...types], 4);
      for (let i = 0; i < 2 * CHUNK_ROWS; i++) c.push();
      const first = c.chunk(0)[0];
      c.dropFront(CHUNK_ROWS);
      for (let i = 0; i < CHUNK_ROWS; i++) c.push();
      expect(c.chunk(2 * CHUNK_ROWS)[0], types.join()).toBe(first);
    }
  });

  test("keep every 64-bit value exactly, from BigInts and from numbers (negative ones wrap modulo 2^64)", () => {
    const c = new Columns(["u64"], 4);
    const values: [bigint | number, bigint][] = [
      [0, 0n], [1, 1n], [2 ** 32, 2n ** 32n], [Number.MAX_SAFE_INTEGER, 2n ** 53n - 1n], [-1, 2n ** 64n - 1n], [-4096, 2n ** 64n - 4096n],
      [0xffff_8000_0000_1000n, 0xffff_8000_0000_1000n], [2n ** 64n - 1n, 2n ** 64n - 1n], [-1n, 2n ** 64n - 1n],
    ];
    for (const [v, want] of values) {
      const r = c.push();
      putU64(c.chunk(r)[0]!, r & CHUNK_MASK, v);
      expect(getU64(c.chunk(r)[0]!, r & CHUNK_MASK), String(v)).toBe(want);
    }
  });
});
