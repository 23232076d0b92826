// The exitlab language as a kernel backend: Session Results → Jupyter outputs (MIME bundles).
// Runs inside the kernel's worker thread (kernel/worker.ts); the lab and the chart renderers are
// loaded here, lazily, so the kernel process itself starts without them.

import type { ExecuteContext, ExecuteOutcome, KernelBackend } from "./backend.js";
import type { ErrorResult } from "../lab/results.js";
import { resultBundle } from "./mime.js";
import { KERNEL_INFO } from "./exitlab-info.js";

export { LANGUAGE_INFO } from "./exitlab-info.js";

export async function createBackend(): Promise<KernelBackend> {
  const lab = await import("../lab/index.js");
  const session = await lab.Session.create();
  return {
    ...KERNEL_INFO,

    async execute(code: string, ctx: ExecuteContext): Promise<ExecuteOutcome> {
      const results = session.execute(code, { interrupted: () => ctx.interrupted(), baseDir: process.cwd() });
      const errors = results.filter((r): r is ErrorResult => r.kind === "error");
      // A bare expression's value is the cell's result (execute_result, Out[n]); `print` and the
      // statements' reports are standard output. A cell without a value keeps its final report
      // as its result, as before values existed.
      const hasValue = results.some((r) => r.kind === "value");
      const stdout = (text: string) => ctx.emit({ type: "stream", name: "stdout", text: text.endsWith("\n") ? text : text + "\n" });
      for (const r of results) {
        switch (r.kind) {
          case "value":
            ctx.emit({ type: "result", data: { "text/plain": r.text } });
            break;
          case "print":
            stdout(r.text);
            break;
          case "text":
            if (!hasValue && r === results.at(-1)) ctx.emit({ type: "result", data: { "text/plain": r.text } });
            else stdout(r.text);
            break;
          case "trace":
          case "table":
          case "chart":
            ctx.emit({ type: "display", data: await resultBundle(r) });
            break;
          case "error":
            // All but the last error go to stderr; the last becomes the cell's error message.
            if (r !== errors.at(-1)) ctx.emit({ type: "stream", name: "stderr", text: lab.formatError(r) + "\n" });
            break;
        }
      }
      const last = errors.at(-1);
      if (!last) return { status: "ok" };
      // The traceback is the CLI's error text, one line per entry (lab/results.ts formatError).
      return { status: "error", ename: last.name, evalue: last.message, traceback: lab.formatError(last).split("\n") };
    },

    complete(code, cursorPos) {
      const r = lab.complete(session, code, cursorPos);
      return { matches: r.matches, cursor_start: r.start, cursor_end: r.end };
    },

    inspect(code, cursorPos) {
      const doc = lab.inspect(session, code, cursorPos);
      return doc === undefined ? { found: false, data: {} } : { found: true, data: { "text/plain": doc } };
    },

    isComplete(code) {
      const s = lab.isComplete(code);
      return s === "incomplete" ? { status: s, indent: "  " } : { status: s };
    },
  };
}
