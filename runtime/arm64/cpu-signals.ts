// What the guest CPU (cpu.ts) throws to stop an instruction: a trap to EL2 with the syndrome the
// hardware writes (the KVM model takes it), an exception already taken to the guest's EL1, or a
// stop the model cannot continue from. Sources: Arm ARM (DDI 0487) D1.10 (exception entry),
// D17.2.37 (ESR_EL2), D17.2.47 (HPFAR_EL2).

/** A trap to EL2: what the hardware writes into ESR_EL2, FAR_EL2 and HPFAR_EL2. */
export class El2Trap {
  constructor(
    /** ESR_EL2 (its defined bits fit in 32: EC, IL, ISS). */
    readonly esr: number,
    /** FAR_EL2 (aborts only). */
    readonly far?: bigint,
    /** HPFAR_EL2 (stage-2 aborts only): IPA[47:12] in bits 39:4. */
    readonly hpfar?: bigint,
    /** ELR_EL2 is the next instruction, not the trapping one (HVC returns past the instruction). */
    readonly next = false,
  ) {}
}

/** An exception was taken to the guest's EL1 (state already updated; the instruction is abandoned). */
export class GuestException {
  constructor(readonly ec: number, readonly esr: bigint) {}
}

/** Not an architectural event: the guest did something the model cannot continue from (e.g. WFI with no interrupt source). */
export class CpuStop {
  constructor(readonly message: string) {}
}
