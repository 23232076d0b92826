// Main-thread handle on the worker that runs the language backend: request/reply by id, output
// streaming, the interrupt flag, and a fresh worker if the old one dies (the kernel survives).

import { Worker } from "node:worker_threads";
import type { Output } from "./backend.js";
import type { WorkerReply, WorkerRequest, WorkerStart } from "./worker.js";

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void; onOutput?: (o: Output) => void };
type Request = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

export class Engine {
  private worker!: Worker;
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Set when a worker died; the message of the next request says so once. */
  lostState: string | null = null;

  constructor(
    private readonly workerUrl: URL,
    private readonly backendModule: string,
  ) {
    this.spawn();
  }

  private spawn(): void {
    const start: WorkerStart = { backendModule: this.backendModule, interruptFlag: this.flag.buffer as SharedArrayBuffer };
    const worker = new Worker(this.workerUrl, { workerData: start });
    worker.on("message", (m: WorkerReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      if (m.kind === "output") p.onOutput?.(m.output);
      else {
        this.pending.delete(m.id);
        if (m.kind === "done") p.resolve(m.value);
        else p.reject(new Error(m.error));
      }
    });
    const died = (why: string) => {
      if (this.worker !== worker) return;
      for (const p of this.pending.values()) p.reject(new Error(`the exitlab engine stopped (${why}); session state was lost`));
      this.pending.clear();
      this.lostState = why;
      this.spawn();
    };
    worker.on("error", (e) => died(e.message));
    worker.on("exit", (code) => died(`exit code ${code}`));
    worker.unref();
    this.worker = worker;
  }

  request(req: Request, onOutput?: (o: Output) => void): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onOutput });
      this.worker.postMessage({ ...req, id });
    });
  }

  interrupt(): void {
    Atomics.store(this.flag, 0, 1);
  }

  clearInterrupt(): void {
    Atomics.store(this.flag, 0, 0);
  }

  async stop(): Promise<void> {
    const w = this.worker;
    this.worker = undefined as unknown as Worker; // mark as intentionally stopped
    await w.terminate();
  }
}
