// Outputs sent to notebook front ends keep the beginning and end of very long traces and tables.

import { describe, expect, test } from "vitest";
import { DISPLAY_LIMITS, resultBundle } from "../../kernel/mime.js";
import type { TableResult, TraceResult } from "../../lab/results.js";

describe("display limits", () => {
  test("a long trace keeps its first and last lines and says how many are hidden", async () => {
    const n = DISPLAY_LIMITS.traceLines * 3;
    const trace: TraceResult = { kind: "trace", title: "trace", lines: Array.from({ length: n }, (_, i) => `kvm_exit: ${i}`), line: 1 };
    const text = (await resultBundle(trace))["text/plain"] as string;
    const lines = text.split("\n");
    const half = DISPLAY_LIMITS.traceLines / 2;
    expect(lines).toHaveLength(DISPLAY_LIMITS.traceLines + 1);
    expect(lines[0]).toBe("kvm_exit: 0");
    expect(lines[half - 1]).toBe(`kvm_exit: ${half - 1}`);
    expect(lines[half]).toBe(`… ${n - 2 * half} lines not shown: \`show trace last N\` shows the end, \`save trace "FILE"\` writes them all`);
    expect(lines.at(-1)).toBe(`kvm_exit: ${n - 1}`);
  });

  test("a short trace is whole", async () => {
    const trace: TraceResult = { kind: "trace", title: "trace", lines: ["a", "b"], line: 1 };
    expect((await resultBundle(trace))["text/plain"]).toBe("a\nb");
  });

  test("a long table keeps its first and last rows and says so in its title", async () => {
    const n = DISPLAY_LIMITS.tableRows + 1;
    const table: TableResult = {
      kind: "table",
      title: "exits",
      columns: [{ name: "i", type: "number" }],
      rows: Array.from({ length: n }, (_, i) => [i]),
      line: 1,
    };
    const bundle = await resultBundle(table);
    const html = bundle["text/html"] as string;
    expect(html).toContain(`exits (the first ${DISPLAY_LIMITS.tableRows / 2} and last ${DISPLAY_LIMITS.tableRows / 2} of ${n} rows)`);
    expect((html.match(/<tr>/g) ?? []).length).toBe(DISPLAY_LIMITS.tableRows + 1); // + the header row
    const cells = (bundle["text/plain"] as string).split("\n").map((l) => l.trim());
    const half = DISPLAY_LIMITS.tableRows / 2;
    expect(cells).toContain(String(half - 1));
    expect(cells).not.toContain(String(half)); // the hidden middle row
    expect(cells).toContain(String(n - 1));
  });
});
