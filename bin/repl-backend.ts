// The REPL's language side, run in a worker thread by the kernel's Engine (kernel/engine.ts) so
// that the REPL's main thread stays free to see Ctrl-C while a statement runs the guest.
// Results come back as terminal text: errors on stderr, everything else (values echoed,
// `print`, the statements' reports) on stdout.

import type { ExecuteContext, ExecuteOutcome, KernelBackend } from "../kernel/backend.js";

/** The backend the worker loads (kernel/worker.ts): one Session; results as terminal text on stdout/stderr streams. */
export async function createBackend(): Promise<KernelBackend> {
  const lab = await import("../lab/index.js");
  const session = await lab.Session.create();
  return {
    languageInfo: { name: "exitlab", version: "0.1.0", mimetype: "text/x-exitlab", file_extension: ".exl" },
    banner: "exitlab REPL",
    helpLinks: [],
    execute(code: string, ctx: ExecuteContext): ExecuteOutcome {
      const results = session.execute(code, { interrupted: () => ctx.interrupted(), baseDir: process.cwd() });
      for (const r of results) ctx.emit({ type: "stream", name: r.kind === "error" ? "stderr" : "stdout", text: lab.renderText(r) + "\n" });
      return { status: "ok" };
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
      return { status: lab.isComplete(code) };
    },
  };
}
