// Errors the runtime raises on bad input or a stopped machine. Each carries a stable `name`
// that the DSL, the CLI and the kernel show to the user.

export class ExitlabError extends Error {
  constructor(message: string, readonly hint?: string) {
    super(message);
    this.name = "ExitlabError";
  }
}

/** Guest memory access outside RAM and MMIO, over the memory cap, or similar. */
export class GuestMemoryError extends ExitlabError {
  constructor(message: string, hint?: string) {
    super(message, hint);
    this.name = "GuestMemoryError";
  }
}

/** Assembly source that does not assemble: carries the line and column. */
export class AsmError extends ExitlabError {
  /** The message without the position (for callers that point at the source themselves). */
  readonly detail: string;
  constructor(message: string, readonly line: number, readonly column: number, hint?: string) {
    super(`line ${line}, column ${column}: ${message}`, hint);
    this.name = "AsmError";
    this.detail = message;
  }
}

/** The modelled hypervisor stopped the VM (e.g. KVM 2015 on an ISV=0 MMIO abort). */
export class VmStoppedError extends ExitlabError {
  constructor(message: string, hint?: string) {
    super(message, hint);
    this.name = "VmStopped";
  }
}
