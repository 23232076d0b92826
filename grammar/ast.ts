// The typed syntax tree of an exitlab program. Every node carries the source span it came from
// so errors, `expect` failures and the kernel's inspect can point at the exact text.

export interface Pos {
  /** 1-based line and column of the node's first character. */
  line: number;
  col: number;
  /** 0-based offsets into the source: [offset, end). */
  offset: number;
  end: number;
}

export type Expr =
  | { type: "number"; value: bigint; text: string; pos: Pos }
  | { type: "string"; value: string; pos: Pos }
  /** A bare or dotted name: variable, register, exit reason, or exit/VMCS field shorthand (`esr.iss.srt`). */
  | { type: "name"; path: string[]; pos: Pos }
  /** `exit.reason`, `exit.qual.cr`: a field of the pending (or last) exit. */
  | { type: "exitField"; path: string[]; pos: Pos }
  /** `exits[i].field`. */
  | { type: "exitAt"; index: Expr; path: string[]; pos: Pos }
  /** `count(exits [where cond])`; `count(NAME ...)`: a named VM's or loaded trace's exits. */
  | { type: "count"; where: Expr | null; source: Word | null; pos: Pos }
  /** `first(exits where cond)`: the index of the first exit that matches (`first(NAME where ...)`: of NAME's). */
  | { type: "find"; fn: Word; where: Expr; source: Word | null; pos: Pos }
  | { type: "unary"; op: "!" | "-" | "~"; operand: Expr; pos: Pos }
  | { type: "binary"; op: BinaryOp; left: Expr; right: Expr; pos: Pos };

export type BinaryOp =
  | "||" | "&&" | "==" | "!=" | "<" | "<=" | ">" | ">="
  | "|" | "^" | "&" | "<<" | ">>" | "+" | "-" | "*" | "/" | "%";

/** A word in a fixed position (trap kind, setting name, view name...), kept with its span. */
export interface Word {
  text: string;
  pos: Pos;
}

export type GuestSource =
  | { type: "builtin"; name: Word }
  | { type: "file"; path: string; pos: Pos }
  /** A binary loaded as QEMU's -kernel does: `image "FILE"` (arm64), `multiboot "FILE"` or `bzimage "FILE"` (x86), `append "ARGS"`, `initrd "FILE"` (QEMU's -initrd), `mem MIB` (QEMU's -m). */
  | { type: "image"; format: "image" | "multiboot" | "bzimage"; path: string; append: string | null; initrd: { path: string; pos: Pos } | null; mem: { value: number; pos: Pos } | null; pos: Pos }
  /** `mode` is the x86 processor mode the block starts in (`asm mode 16 { }`); null: the arch's default. */
  | { type: "asm"; arch: Word | null; mode: Expr | null; body: string; pos: Pos };

export type Statement =
  /** `arch` null: the session's default architecture (`set arch`). */
  | { type: "vmBoot"; arch: Word | null; guest: GuestSource | null; name: Word | null; pos: Pos }
  | { type: "use"; name: Word; pos: Pos }
  | { type: "trap"; enable: boolean; kind: Word; arg: Expr | Word | null; pos: Pos }
  | { type: "step"; count: Expr | null; until: "exit" | Expr | null; pos: Pos }
  | { type: "handle"; pos: Pos }
  /** `irq N`: the VMM injects interrupt N into the current VM (KVM_IRQ_LINE); `irq gsi N [high|low]`: x86's GSI line. */
  | { type: "irq"; intid: Expr; gsi?: true; level?: { word: string; pos: Pos } | null; pos: Pos }
  /** `vcpu N`: the vCPU `show regs`, `show exit` and `step` address. */
  | { type: "vcpu"; cpu: Expr; pos: Pos }
  /** `ipi CPU [sgi N]`: the VMM makes SGI N (default 0) pending for vCPU CPU. */
  | { type: "ipi"; cpu: Expr; sgi: Expr | null; pos: Pos }
  | { type: "run"; until: "halt" | Expr | null; limit: Expr | null; pos: Pos }
  | { type: "show"; what: Word; args: Expr[]; pos: Pos }
  | { type: "table"; source: Word | null; by: Word | null; pos: Pos }
  /**
   * `chart [NAME] exits|cycles by reason|over time [where COND] [without console]`, or
   * `chart compare NAME NAME [...]`. `measure` null means exits; `source` null the current VM.
   */
  | { type: "chart"; source: Word | null; measure: Word | null; by: Word | null; overTime: boolean; compare: [Word, Word] | null; filters: ChartFilter[]; pos: Pos }
  | { type: "compare"; left: Word; right: Word; pos: Pos }
  | { type: "let"; name: Word; value: Expr; pos: Pos }
  | { type: "expect"; cond: Expr; message: string | null; pos: Pos }
  /** `vm`: `set kvm today for NAME` changes that VM only. */
  | { type: "set"; name: Word; value: Expr | Word; vm: Word | null; pos: Pos }
  /** `source` null: the current VM. The file's extension picks the format (.parquet, .csv, .json, else text). */
  | { type: "saveTrace"; source: Word | null; path: string; pos: Pos }
  /** `stat [NAME]`: perf kvm stat report of the current VM, a named VM or a loaded trace. */
  | { type: "stat"; source: Word | null; pos: Pos }
  /** `chart sql "QUERY"`: bars of the query's first numeric column by its first column. */
  | { type: "chartSql"; query: string; queryPos: Pos; pos: Pos }
  /** `sql "QUERY"`: DuckDB over the session's traces. */
  | { type: "sql"; query: string; queryPos: Pos; pos: Pos }
  | { type: "loadTrace"; path: string; name: Word | null; pos: Pos }
  | { type: "help"; topic: Word | null; pos: Pos }
  /** `print a, b`: text on standard output. */
  | { type: "print"; items: Expr[]; pos: Pos }
  /** A bare expression: its value is the statement's result. */
  | { type: "value"; expr: Expr; pos: Pos }

  /** `decode REGISTER [KIND] VALUE`: the words before the value, then the value. */
  | { type: "decode"; words: Word[]; value: Expr; pos: Pos };

/** A chart's filter: `where COND` keeps the exits it holds for; `without console` (option `without`). */
export type ChartFilter = { type: "where"; cond: Expr } | { type: "without"; option: Word; what: Word };

export type StatementType = Statement["type"];

export interface Program {
  statements: Statement[];
  source: string;
}
