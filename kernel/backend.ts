// The language side of the kernel, as the protocol layer sees it. The protocol knows nothing of
// exitlab; a backend knows nothing of sockets. Backends run in a worker thread (kernel/worker.ts)
// so that a long-running cell can be interrupted while the main thread keeps answering.

export type MimeBundle = Record<string, unknown>;

export type Output =
  | { type: "stream"; name: "stdout" | "stderr"; text: string }
  | { type: "display"; data: MimeBundle; metadata?: Record<string, unknown> }
  | { type: "result"; data: MimeBundle; metadata?: Record<string, unknown> }
  | { type: "clear"; wait: boolean };

export type ExecuteOutcome =
  | { status: "ok" }
  | { status: "error"; ename: string; evalue: string; traceback: string[] };

export interface ExecuteContext {
  /** True once the user asked to interrupt (message or SIGINT). Poll it in long loops. */
  interrupted(): boolean;
  /** Send an output to the front end now. */
  emit(output: Output): void;
}

export interface LanguageInfo {
  name: string;
  version: string;
  mimetype: string;
  file_extension: string;
  codemirror_mode?: unknown;
  pygments_lexer?: string;
}

export interface KernelBackend {
  readonly languageInfo: LanguageInfo;
  readonly banner: string;
  readonly helpLinks: { text: string; url: string }[];
  execute(code: string, ctx: ExecuteContext): ExecuteOutcome | Promise<ExecuteOutcome>;
  complete(code: string, cursorPos: number): { matches: string[]; cursor_start: number; cursor_end: number };
  inspect(code: string, cursorPos: number, detailLevel: number): { found: boolean; data: MimeBundle };
  isComplete(code: string): { status: "complete" | "incomplete" | "invalid" | "unknown"; indent?: string };
}

/** A backend module exports this; the worker imports the module named in its start options. */
export type BackendFactory = () => KernelBackend | Promise<KernelBackend>;
