// The worker thread of `exitlab run`: one Session runs the whole program here, so the CLI's main
// thread stays free to see SIGINT (Ctrl-C) while a statement runs the guest, and sets the shared
// flag the run loop polls (as the REPL and the kernel do through kernel/worker.ts).

import { parentPort, workerData } from "node:worker_threads";
import { Session } from "../../lab/session.js";
import type { Result } from "../../lab/results.js";

/** What the main thread hands over: the program, how to run it, and the interrupt flag (an Int32 at 0). */
export interface RunWorkerStart {
  source: string;
  baseDir: string;
  stopOnError: boolean;
  interruptFlag: SharedArrayBuffer;
}

const start = workerData as RunWorkerStart;
const flag = new Int32Array(start.interruptFlag);
const session = await Session.create();
const results: Result[] = session.execute(start.source, {
  stopOnError: start.stopOnError,
  baseDir: start.baseDir,
  interrupted: () => Atomics.load(flag, 0) !== 0,
});
parentPort!.postMessage(results);
