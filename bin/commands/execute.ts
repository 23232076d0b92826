// Running a whole program for the CLI off the main thread: the Session lives in a worker
// (bin/commands/run-worker.ts) and the main thread turns SIGINT into the shared interrupt flag, so
// Ctrl-C stops a runaway `run` at the next instruction boundary with an `Interrupted` error. A
// second Ctrl-C while the first is being honoured ends the process (status 130, as shells do).

import { Worker } from "node:worker_threads";
import type { Result } from "../../lab/results.js";
import type { RunWorkerStart } from "./run-worker.js";

/** Session.execute(source, { stopOnError, baseDir }) in a worker, interruptible by SIGINT; its Results. */
export function executeInterruptibly(source: string, options: { stopOnError: boolean; baseDir: string }): Promise<Result[]> {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const start: RunWorkerStart = { source, ...options, interruptFlag: flag.buffer as SharedArrayBuffer };
  const worker = new Worker(new URL("./run-worker.js", import.meta.url), { workerData: start });
  const onSigint = () => {
    if (Atomics.load(flag, 0) !== 0) process.exit(130);
    Atomics.store(flag, 0, 1);
  };
  process.on("SIGINT", onSigint);
  return new Promise<Result[]>((resolve, reject) => {
    worker.once("message", (results: Result[]) => resolve(results));
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`the exitlab engine stopped (exit code ${code})`)));
  }).finally(() => {
    process.off("SIGINT", onSigint);
    void worker.terminate();
  });
}
