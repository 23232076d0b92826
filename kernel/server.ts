// The Jupyter kernel: five sockets from a connection file, a handler table keyed by msg_type
// (like KVM's exit handlers keyed by reason), execution through the worker-side backend.
// Shell requests run one at a time in arrival order; control requests (interrupt, shutdown,
// kernel_info) are answered at once, even while a cell runs.

import { randomUUID } from "node:crypto";
import * as zmq from "zeromq";
import type { ExecuteOutcome, Output } from "./backend.js";
import { Engine } from "./engine.js";
import type { KernelInfo } from "./exitlab-info.js";
import { type ConnectionInfo, channelAddress } from "./protocol/connection.js";
import { type Message, PROTOCOL_VERSION, Signer, WireError, decode, encode, newHeader } from "./protocol/wire.js";

export const KERNEL_VERSION = "0.1.0";

type Channel = "shell" | "control";
type Handler = (msg: Message, channel: Channel) => Promise<void>;

interface HistoryEntry {
  session: number;
  line: number;
  input: string;
  /** text/plain of the execute_result, for history requests with output=true. */
  output: string | null;
}

/** One socket's sends, serialised: zeromq allows one pending send per socket. */
class Sender {
  private chain: Promise<void> = Promise.resolve();
  constructor(private readonly socket: zmq.Router | zmq.Publisher) {}
  send(frames: Buffer[]): Promise<void> {
    this.chain = this.chain.then(() => this.socket.send(frames)).catch((e: Error) => log(`send failed: ${e.message}`));
    return this.chain;
  }
}

function log(text: string): void {
  process.stderr.write(`[exitlab kernel] ${text}\n`);
}

export interface KernelOptions {
  connection: ConnectionInfo;
  /** Module (path or file URL) exporting createBackend(). */
  backendModule: string;
  /**
   * kernel_info_reply's language info, banner and help links, when known without the backend
   * (the default exitlab backend's are static): kernel_info is then answered at once instead of
   * after the worker has loaded the language. Without it the worker is asked.
   */
  info?: KernelInfo;
  /** Called after shutdown_request has been answered. */
  onShutdown?: (restart: boolean) => void;
  /**
   * Fault injection for the protocol checks (test/e2e/abort_checks.py): after an execute_request's
   * error reply the kernel waits this many milliseconds, event loop running, before it answers the
   * requests it aborts; a kernel descheduled under load does the same. Default 0.
   */
  stallAfterErrorMs?: number;
}

export class Kernel {
  private readonly signer: Signer;
  private readonly session = randomUUID();
  private readonly shell = new zmq.Router();
  private readonly control = new zmq.Router();
  private readonly stdin = new zmq.Router();
  private readonly iopub = new zmq.Publisher();
  private readonly hb = new zmq.Reply();
  private readonly out: Record<Channel, Sender>;
  private readonly iopubOut: Sender;
  private readonly engine: Engine;
  private executionCount = 0;
  private readonly history: HistoryEntry[] = [];
  private readonly shellQueue: Message[] = [];
  private shellBusy = false;
  private stopped = false;
  private info: KernelInfo | undefined;

  constructor(private readonly options: KernelOptions) {
    this.signer = new Signer(options.connection.key, options.connection.signature_scheme);
    this.out = { shell: new Sender(this.shell), control: new Sender(this.control) };
    this.iopubOut = new Sender(this.iopub);
    this.engine = new Engine(new URL("./worker.js", import.meta.url), options.backendModule);
  }

  async start(): Promise<void> {
    const c = this.options.connection;
    for (const s of [this.shell, this.control, this.stdin, this.iopub, this.hb]) s.linger = 0;
    await Promise.all([
      this.shell.bind(channelAddress(c, "shell")),
      this.control.bind(channelAddress(c, "control")),
      this.stdin.bind(channelAddress(c, "stdin")),
      this.iopub.bind(channelAddress(c, "iopub")),
      this.hb.bind(channelAddress(c, "hb")),
    ]);
    void this.heartbeat();
    void this.listen(this.control, "control");
    void this.listen(this.shell, "shell");
    await this.publish("status", { execution_state: "starting" }, {});
  }

  /** SIGINT with interrupt_mode "signal". */
  interrupt(): void {
    this.engine.interrupt();
  }

  private async heartbeat(): Promise<void> {
    try {
      for await (const frames of this.hb) await this.hb.send(frames);
    } catch (e) {
      if (!this.stopped) log(`heartbeat stopped: ${(e as Error).message}`);
    }
  }

  private async listen(socket: zmq.Router, channel: Channel): Promise<void> {
    try {
      for await (const frames of socket) {
        let msg: Message;
        try {
          msg = decode(frames, this.signer);
        } catch (e) {
          // Never executed, never fatal: a bad signature or a malformed frame is logged and dropped.
          log(`dropped a ${channel} message: ${e instanceof WireError ? e.message : String(e)}`);
          continue;
        }
        if (channel === "shell") {
          this.shellQueue.push(msg);
          void this.drainShell();
        } else void this.dispatch(msg, channel);
      }
    } catch (e) {
      if (!this.stopped) log(`${channel} socket stopped: ${(e as Error).message}`);
    }
  }

  private async drainShell(): Promise<void> {
    if (this.shellBusy) return;
    this.shellBusy = true;
    try {
      while (this.shellQueue.length > 0) await this.dispatch(this.shellQueue.shift()!, "shell");
    } finally {
      this.shellBusy = false;
    }
  }

  private async dispatch(msg: Message, channel: Channel): Promise<void> {
    const type = msg.header.msg_type;
    const handler = Object.hasOwn(this.handlers, type) ? this.handlers[type] : undefined;
    // A request the kernel does not know still gets a reply (status error): the client is not left waiting.
    if (!handler && !(typeof type === "string" && type.endsWith("_request"))) {
      log(`ignored unknown message ${String(type)}`);
      return;
    }
    await this.publish("status", { execution_state: "busy" }, msg.header);
    try {
      if (!handler) throw new RequestError("UnknownRequest", `this kernel does not answer ${type}`);
      await handler(msg, channel);
    } catch (e) {
      // Every request whose handler failed is answered with status "error" (the protocol's rule).
      const ename = e instanceof RequestError ? e.ename : "KernelError";
      const evalue = e instanceof Error ? e.message : String(e);
      log(`${String(type)} failed: ${evalue}`);
      if (!this.replied.has(msg)) {
        const count = type === "execute_request" ? { execution_count: this.executionCount } : {};
        await this.reply(msg, channel, type.replace(/_request$/, "_reply"), { status: "error", ename, evalue, traceback: [`${ename}: ${evalue}`], ...count });
      }
    } finally {
      await this.publish("status", { execution_state: "idle" }, msg.header);
    }
  }

  /** Requests answered already (a handler that fails after its reply is not answered twice). */
  private readonly replied = new WeakSet<Message>();

  private reply(msg: Message, channel: Channel, type: string, content: unknown, metadata: Record<string, unknown> = {}): Promise<void> {
    this.replied.add(msg);
    const frames = encode(msg.identities, newHeader(type, this.session), msg.header, metadata, content, this.signer);
    return this.out[channel].send(frames);
  }

  private publish(type: string, content: unknown, parent: Partial<Message["header"]>): Promise<void> {
    const topic = Buffer.from(`kernel.${this.session}.${type}`);
    return this.iopubOut.send(encode([topic], newHeader(type, this.session), parent, {}, content, this.signer));
  }

  private async languageInfo() {
    this.info ??= this.options.info ?? ((await this.engine.request({ op: "info" })) as KernelInfo);
    return this.info;
  }

  // The handler table, keyed by msg_type.
  private readonly handlers: Record<string, Handler> = {
    kernel_info_request: async (msg, ch) => {
      const info = await this.languageInfo();
      await this.reply(msg, ch, "kernel_info_reply", {
        status: "ok",
        protocol_version: PROTOCOL_VERSION,
        implementation: "exitlab",
        implementation_version: KERNEL_VERSION,
        language_info: info.languageInfo,
        banner: info.banner,
        help_links: info.helpLinks,
        debugger: false,
      });
    },

    execute_request: async (msg, ch) => {
      const c = msg.content;
      const code = field(c, "code", "string", "");
      const silent = field(c, "silent", "boolean", false);
      const storeHistory = silent ? false : field(c, "store_history", "boolean", true);
      const stopOnError = field(c, "stop_on_error", "boolean", true);
      if (storeHistory) this.executionCount++;
      const count = this.executionCount;
      const entry: HistoryEntry = { session: 1, line: count, input: code, output: null };
      if (storeHistory) this.history.push(entry);
      if (!silent) await this.publish("execute_input", { code, execution_count: count }, msg.header);

      this.engine.clearInterrupt();
      const forward = (o: Output) => {
        if (silent) return;
        if (o.type === "stream") void this.publish("stream", { name: o.name, text: o.text }, msg.header);
        else if (o.type === "clear") void this.publish("clear_output", { wait: o.wait }, msg.header);
        else if (o.type === "display") void this.publish("display_data", { data: o.data, metadata: o.metadata ?? {}, transient: {} }, msg.header);
        else {
          if (typeof o.data["text/plain"] === "string") entry.output = o.data["text/plain"];
          void this.publish("execute_result", { execution_count: count, data: o.data, metadata: o.metadata ?? {} }, msg.header);
        }
      };
      let outcome: ExecuteOutcome;
      try {
        outcome = (await this.engine.request({ op: "execute", code }, forward)) as ExecuteOutcome;
      } catch (e) {
        outcome = { status: "error", ename: "EngineError", evalue: (e as Error).message, traceback: [(e as Error).message] };
      }
      if (outcome.status === "error") {
        if (!silent) await this.publish("error", { ename: outcome.ename, evalue: outcome.evalue, traceback: outcome.traceback }, msg.header);
        // stop_on_error aborts the execute requests queued when the error happened: taken now,
        // before the reply leaves, so a request the client sends after seeing the reply is never
        // among them however late the kernel gets to answering the aborted ones.
        const doomed = stopOnError ? this.shellQueue.filter((m) => m.header.msg_type === "execute_request") : [];
        await this.reply(msg, ch, "execute_reply", {
          status: "error",
          execution_count: count,
          ename: outcome.ename,
          evalue: outcome.evalue,
          traceback: outcome.traceback,
        });
        const stall = this.options.stallAfterErrorMs ?? 0;
        if (stall > 0) await new Promise((r) => setTimeout(r, stall));
        await this.abort(doomed);
        return;
      }
      await this.reply(msg, ch, "execute_reply", { status: "ok", execution_count: count, payload: [], user_expressions: {} });
    },

    complete_request: async (msg, ch) => {
      const code = field(msg.content, "code", "string", "");
      const cursorPos = cursor(msg.content, code);
      const r = (await this.engine.request({ op: "complete", code, cursorPos })) as object;
      await this.reply(msg, ch, "complete_reply", { status: "ok", metadata: {}, ...r });
    },

    inspect_request: async (msg, ch) => {
      const code = field(msg.content, "code", "string", "");
      const detailLevel = field(msg.content, "detail_level", "number", 0);
      const r = (await this.engine.request({ op: "inspect", code, cursorPos: cursor(msg.content, code), detailLevel })) as object;
      await this.reply(msg, ch, "inspect_reply", { status: "ok", metadata: {}, ...r });
    },

    is_complete_request: async (msg, ch) => {
      const r = (await this.engine.request({ op: "isComplete", code: field(msg.content, "code", "string", "") })) as object;
      await this.reply(msg, ch, "is_complete_reply", r);
    },

    history_request: async (msg, ch) => {
      const c = msg.content;
      const access = field(c, "hist_access_type", "string", "");
      const n = field(c, "n", "number", 10);
      const output = field(c, "output", "boolean", false);
      let entries = this.history;
      if (access === "") entries = entries.slice();
      else if (access === "tail") entries = n > 0 ? entries.slice(-n) : [];
      else if (access === "range") {
        const start = field(c, "start", "number", 0);
        const stop = field(c, "stop", "number", Number.POSITIVE_INFINITY);
        entries = entries.filter((e) => e.line >= start && e.line < stop);
      } else if (access === "search") {
        // The match runs in the worker: a pattern is user input (kernel/glob.ts).
        const pattern = field(c, "pattern", "string", "*");
        const unique = field(c, "unique", "boolean", false);
        const all = entries;
        const hits = (await this.engine.request({ op: "historySearch", inputs: all.map((e) => e.input), pattern, unique, n: field(c, "n", "number", 0) })) as number[];
        entries = hits.map((i) => all[i]!);
      } else throw new RequestError("ValueError", `hist_access_type must be tail, range or search, not ${JSON.stringify(access)}`);
      await this.reply(msg, ch, "history_reply", { status: "ok", history: entries.map((e) => [e.session, e.line, output ? [e.input, e.output] : e.input]) });
    },

    comm_info_request: async (msg, ch) => {
      await this.reply(msg, ch, "comm_info_reply", { status: "ok", comms: {} });
    },

    interrupt_request: async (msg, ch) => {
      this.engine.interrupt();
      await this.reply(msg, ch, "interrupt_reply", { status: "ok" });
    },

    shutdown_request: async (msg, ch) => {
      const restart = field(msg.content, "restart", "boolean", false);
      await this.reply(msg, ch, "shutdown_reply", { status: "ok", restart });
      await this.publish("shutdown_reply", { status: "ok", restart }, msg.header);
      setImmediate(() => void this.stop().then(() => this.options.onShutdown?.(restart)));
    },
  };

  /**
   * stop_on_error: `doomed` (execute requests that were queued when a cell failed) leave the shell
   * queue unrun, each answered status "aborted" (messaging spec, execute_request stop_on_error);
   * requests that came later keep their place.
   */
  private async abort(doomed: readonly Message[]): Promise<void> {
    const gone = new Set(doomed);
    const keep = this.shellQueue.filter((m) => !gone.has(m));
    this.shellQueue.length = 0;
    for (const m of keep) this.shellQueue.push(m);
    for (const m of doomed) {
      await this.publish("status", { execution_state: "busy" }, m.header);
      await this.reply(m, "shell", "execute_reply", { status: "aborted", execution_count: this.executionCount });
      await this.publish("status", { execution_state: "idle" }, m.header);
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await new Promise((r) => setTimeout(r, 20)); // let the last replies leave
    for (const s of [this.shell, this.control, this.stdin, this.iopub, this.hb]) s.close();
    await this.engine.stop();
  }
}

/** A request the kernel refuses (a field of the wrong type, an unknown type): its reply says why. */
class RequestError extends Error {
  constructor(
    readonly ename: string,
    message: string,
  ) {
    super(message);
  }
}

type FieldType = { string: string; number: number; boolean: boolean };

/**
 * content[name] checked against the type the messaging spec gives it (absent or null: `fallback`);
 * numbers must be finite integers. Throws RequestError naming the field.
 */
function field<K extends keyof FieldType>(content: unknown, name: string, type: K, fallback: FieldType[K]): FieldType[K] {
  if (typeof content !== "object" || content === null || Array.isArray(content)) throw new RequestError("TypeError", "the message content must be an object");
  const v = (content as Record<string, unknown>)[name];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== type || (type === "number" && !Number.isSafeInteger(v))) {
    throw new RequestError("TypeError", `content.${name} must be ${type === "number" ? "an integer" : `a ${type}`}, not ${JSON.stringify(v)?.slice(0, 40) ?? typeof v}`);
  }
  return v as FieldType[K];
}

/** cursor_pos of complete/inspect requests: an offset into `code` (absent or past it: its end). */
function cursor(content: unknown, code: string): number {
  const at = field(content, "cursor_pos", "number", code.length);
  if (at < 0) throw new RequestError("ValueError", `content.cursor_pos must be 0 or more, not ${at}`);
  return Math.min(at, code.length);
}
