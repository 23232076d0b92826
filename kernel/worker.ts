// The worker thread that owns the language backend. The main thread posts requests; the worker
// answers and streams outputs back. A shared Int32 flag carries interrupts: the main thread sets
// it (interrupt_request or SIGINT) while the worker is busy in a synchronous guest run loop.

import { parentPort, workerData } from "node:worker_threads";
import { pathToFileURL } from "node:url";
import type { BackendFactory, KernelBackend, Output } from "./backend.js";
import { searchHistory } from "./glob.js";

export interface WorkerStart {
  backendModule: string;
  interruptFlag: SharedArrayBuffer;
}

export type WorkerRequest =
  | { id: number; op: "info" }
  | { id: number; op: "execute"; code: string }
  | { id: number; op: "complete"; code: string; cursorPos: number }
  | { id: number; op: "inspect"; code: string; cursorPos: number; detailLevel: number }
  | { id: number; op: "isComplete"; code: string }
  | { id: number; op: "historySearch"; inputs: string[]; pattern: string; unique: boolean; n: number };

export type WorkerReply =
  | { id: number; kind: "output"; output: Output }
  | { id: number; kind: "done"; value: unknown }
  | { id: number; kind: "failed"; error: string };

const start = workerData as WorkerStart;
const flag = new Int32Array(start.interruptFlag);
const port = parentPort!;

const backendPromise: Promise<KernelBackend> = import(
  start.backendModule.startsWith("file:") ? start.backendModule : pathToFileURL(start.backendModule).href
).then((m: { createBackend: BackendFactory }) => m.createBackend());

async function answer(req: WorkerRequest): Promise<unknown> {
  // Pattern matching is the user's work too: it runs here, never on the kernel's main thread.
  if (req.op === "historySearch") return searchHistory(req.inputs, req.pattern, req.unique, req.n);
  const backend = await backendPromise;
  switch (req.op) {
    case "info":
      return { languageInfo: backend.languageInfo, banner: backend.banner, helpLinks: backend.helpLinks };
    case "execute":
      return await backend.execute(req.code, {
        interrupted: () => Atomics.load(flag, 0) !== 0,
        emit: (output) => port.postMessage({ id: req.id, kind: "output", output } satisfies WorkerReply),
      });
    case "complete":
      return backend.complete(req.code, req.cursorPos);
    case "inspect":
      return backend.inspect(req.code, req.cursorPos, req.detailLevel);
    case "isComplete":
      return backend.isComplete(req.code);
  }
  return undefined;
}

// Requests are answered one at a time, in order (the main thread queues shell requests anyway).
let chain = Promise.resolve();
port.on("message", (req: WorkerRequest) => {
  chain = chain.then(async () => {
    try {
      port.postMessage({ id: req.id, kind: "done", value: await answer(req) } satisfies WorkerReply);
    } catch (e) {
      const error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      port.postMessage({ id: req.id, kind: "failed", error } satisfies WorkerReply);
    }
  });
});
