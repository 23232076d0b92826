// The x86 exception vectors exitlab raises, injects and names: Intel SDM Vol. 3 Table 6-1
// ("Protected-Mode Exceptions and Interrupts": mnemonic, description, type, error code) and Table
// 6-4 ("Interrupt and Exception Classes": the class that decides a double fault, Table 6-5). One
// table that the CPU (cpu.ts and its layers, paging.ts, system-tables.ts), the instruction semantics, KVM's
// handlers, the interruption-information decoder and the exit views read.
// Vector 9 (Coprocessor Segment Overrun) is reserved since the Intel486 and never raised here;
// 15 and 20-31 (#VE, #CP, ...) are not modelled.

/** Class for double faults (SDM Vol. 3 Table 6-4). */
export type DoubleFaultClass = "benign" | "contributory" | "page-fault";

export interface X86Vector {
  vector: number;
  /** As the SDM and kvm_trace_sym_exc write it ("#GP"; the NMI has no #). */
  mnemonic: string;
  description: string;
  type: "fault" | "trap" | "fault/trap" | "abort" | "interrupt";
  /** Delivered with an error code (SDM Table 6-1 "Error Code": Yes, or Yes (zero)). */
  errorCode: boolean;
  /**
   * Table 6-4's class. #DF is in none of them: a fault while delivering it is a triple fault,
   * which delivery checks first; it is listed as benign here.
   */
  doubleFault: DoubleFaultClass;
}

const v = (vector: number, mnemonic: string, description: string, type: X86Vector["type"], errorCode: boolean, doubleFault: DoubleFaultClass = "benign") =>
  ({ vector, mnemonic, description, type, errorCode, doubleFault }) as const;

/** The vectors by mnemonic without "#" (X86_VECTORS.GP.vector === 13). SDM Vol. 3 Tables 6-1, 6-4. */
export const X86_VECTORS = {
  DE: v(0, "#DE", "Divide Error", "fault", false, "contributory"),
  DB: v(1, "#DB", "Debug Exception", "fault/trap", false),
  NMI: v(2, "NMI", "NMI Interrupt", "interrupt", false),
  BP: v(3, "#BP", "Breakpoint", "trap", false),
  OF: v(4, "#OF", "Overflow", "trap", false),
  BR: v(5, "#BR", "BOUND Range Exceeded", "fault", false),
  UD: v(6, "#UD", "Invalid Opcode (Undefined Opcode)", "fault", false),
  NM: v(7, "#NM", "Device Not Available (No Math Coprocessor)", "fault", false),
  DF: v(8, "#DF", "Double Fault", "abort", true),
  TS: v(10, "#TS", "Invalid TSS", "fault", true, "contributory"),
  NP: v(11, "#NP", "Segment Not Present", "fault", true, "contributory"),
  SS: v(12, "#SS", "Stack-Segment Fault", "fault", true, "contributory"),
  GP: v(13, "#GP", "General Protection", "fault", true, "contributory"),
  PF: v(14, "#PF", "Page Fault", "fault", true, "page-fault"),
  MF: v(16, "#MF", "x87 FPU Floating-Point Error (Math Fault)", "fault", false),
  AC: v(17, "#AC", "Alignment Check", "fault", true),
  MC: v(18, "#MC", "Machine Check", "abort", false),
  XM: v(19, "#XM", "SIMD Floating-Point Exception", "fault", false),
} as const satisfies Record<string, X86Vector>;

export type X86VectorName = keyof typeof X86_VECTORS;

const ROWS: readonly X86Vector[] = Object.values(X86_VECTORS);

/** Vector numbers by name, for code: `cpu.raise(VECTOR.GP, 0)`. A misspelt name is a compile error. */
export const VECTOR = Object.fromEntries(Object.entries(X86_VECTORS).map(([name, r]) => [name, r.vector])) as {
  readonly [K in X86VectorName]: (typeof X86_VECTORS)[K]["vector"];
};

/** Vectors delivered with an error code (SDM Vol. 3 Table 6-1). */
export const ERROR_CODE_VECTORS: ReadonlySet<number> = new Set(ROWS.filter((r) => r.errorCode).map((r) => r.vector));

/** Mnemonics by vector (SDM Vol. 3 Table 6-1), as kvm_trace_sym_exc prints them ("NMI" for 2). */
export const EXCEPTION_NAMES: Readonly<Record<number, string>> = Object.fromEntries(ROWS.map((r) => [r.vector, r.mnemonic]));

const CLASS_BY_VECTOR = new Map(ROWS.map((r) => [r.vector, r.doubleFault]));

/** A vector's class for double faults (SDM Vol. 3 Table 6-4); interrupts (32-255) are benign. */
export function doubleFaultClass(vector: number): DoubleFaultClass {
  return CLASS_BY_VECTOR.get(vector) ?? "benign";
}
