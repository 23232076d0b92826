// One or more assembly examples per A64 table entry (the table test checks that every entry is
// covered). Branch examples refer to the labels `back` (start) and `fwd` (end) that the test
// wraps around this list; `lit` is a word-aligned literal after `fwd`.

const LDST: [string, string, string, number][] = [
  // mnemonic, unscaled mnemonic, register, access size
  ["strb", "sturb", "w1", 1], ["ldrb", "ldurb", "w1", 1], ["ldrsb", "ldursb", "x1", 1], ["ldrsb", "ldursb", "w1", 1],
  ["strh", "sturh", "w1", 2], ["ldrh", "ldurh", "w1", 2], ["ldrsh", "ldursh", "x1", 2], ["ldrsh", "ldursh", "w1", 2],
  ["str", "stur", "w1", 4], ["ldr", "ldur", "w1", 4], ["ldrsw", "ldursw", "x1", 4], ["str", "stur", "x1", 8], ["ldr", "ldur", "x1", 8],
];
const ldst: string[] = [];
for (const [mn, un, rt, size] of LDST) {
  const sh = Math.log2(size);
  ldst.push(
    `${mn} ${rt}, [x2]`, `${mn} ${rt}, [sp, #${size * 3}]`, `${mn} ${rt}, [x2, #-3]`,
    `${mn} ${rt}, [x2, #-16]!`, `${mn} ${rt}, [sp], #255`, `${un} ${rt}, [x2, #1]`,
    `${mn} ${rt}, [x2, x3]`, `${mn} ${rt}, [x2, x3, lsl #${sh}]`, `${mn} ${rt}, [x2, w3, uxtw]`, `${mn} ${rt}, [x2, w3, sxtw #${sh}]`, `${mn} ${rt}, [x2, x3, sxtx]`,
  );
}
const pairs: string[] = [];
for (const [mn, r] of [["stp", "w"], ["ldp", "w"], ["ldpsw", "x"], ["stp", "x"], ["ldp", "x"]] as const) {
  const s = r === "w" || mn === "ldpsw" ? 4 : 8;
  pairs.push(`${mn} ${r}3, ${r}4, [x5]`, `${mn} ${r}3, ${r}4, [sp, #${-8 * s}]`, `${mn} ${r}3, ${r}4, [x5, #${s * 2}]!`, `${mn} ${r}3, ${r}4, [sp], #${-s}`);
  if (mn !== "ldpsw") pairs.push(`${mn.replace("p", "np")} ${r}3, ${r}4, [x5, #${s}]`);
}
// SIMD&FP pairs (S, D, Q)
for (const [r, s] of [["s", 4], ["d", 8], ["q", 16]] as const) {
  for (const mn of ["stp", "ldp"]) {
    pairs.push(`${mn} ${r}3, ${r}4, [x5]`, `${mn} ${r}30, ${r}31, [sp, #${-8 * s}]`, `${mn} ${r}0, ${r}1, [x5, #${s * 2}]!`, `${mn} ${r}3, ${r}4, [sp], #${-s}`);
    pairs.push(`${mn.replace("p", "np")} ${r}3, ${r}4, [x5, #${s}]`);
  }
}
const excl: string[] = [];
for (const [sfx, r] of [["b", "w"], ["h", "w"], ["", "w"], ["", "x"]] as const) {
  excl.push(`ldar${sfx} ${r}0, [x1]`, `stlr${sfx} ${r}0, [sp]`, `ldxr${sfx} ${r}0, [x1]`, `stxr${sfx} w2, ${r}0, [x1]`, `ldaxr${sfx} ${r}0, [x1]`, `stlxr${sfx} w2, ${r}0, [x1]`);
}

export const EXAMPLES: string[] = [
  // add/sub immediate and aliases
  "mov sp, x0", "mov x1, sp", "mov wsp, w3",
  "add x0, x1, #0x10", "add sp, sp, #0x1, lsl #12", "add w0, w1, #4095",
  "adds x0, x1, #0x1", "adds w3, wsp, #0x8",
  "sub sp, sp, #0x20", "sub w1, w2, #0x3, lsl #12",
  "subs x0, x1, #0x1", "cmp x0, #0x1", "cmp wsp, #0x7, lsl #12", "cmn x2, #0x5",
  // logical immediate
  "and x0, x1, #0xff", "and w2, w3, #0xfffffff0", "and sp, x0, #0xfffffffffffffff0",
  "orr x0, x1, #0x5555555555555555", "orr w0, w1, #0x1", "eor x0, x0, #0x8000000000000000", "eor w5, w6, #0x3c3c3c3c",
  "ands x0, x1, #0x1", "tst x0, #0x7", "tst w1, #0x80000000",
  "mov x0, #0x5555555555555555", "mov w0, #0x1010101",
  // move wide
  "mov x0, #0x1", "mov w0, #0x1234", "mov x0, #0x10000", "mov x0, #0xffffffffffffffff", "mov w0, #0xffffffff", "mov x0, #0xffffffffffff1234",
  "movz x0, #0x0, lsl #16", "movn w1, #0xffff", "movn x1, #0x0, lsl #32", "movk x0, #0x1234, lsl #48", "movk w0, #0xabcd",
  // bitfield
  "asr x0, x1, #3", "asr w0, w1, #31", "sbfiz x0, x1, #4, #8", "sbfx x0, x1, #4, #8",
  "sxtb x0, w1", "sxtb w0, w1", "sxth x0, w1", "sxth w0, w1", "sxtw x0, w1",
  "bfc x0, #4, #8", "bfc w1, #3, #29", "bfi x0, x1, #4, #8", "bfi w0, w1, #31, #1", "bfxil x0, x1, #4, #8", "bfxil w0, w1, #0, #16",
  "lsl x0, x1, #3", "lsl w0, w1, #31", "lsr x0, x1, #63", "lsr w0, w1, #4",
  "ubfiz x0, x1, #4, #8", "ubfx x0, x1, #4, #8", "ubfx x0, x1, #0, #8", "ubfx w0, w1, #12, #4",
  "uxtb w0, w1", "uxth w0, w1",
  "sbfm x0, x1, #0, #0", "bfm x0, x1, #0, #0", "ubfm x0, x1, #0, #0", "ubfm w0, w1, #0, #0",
  // extract
  "ror x0, x1, #8", "ror w0, w1, #31", "extr x0, x1, x2, #8", "extr w0, w1, w2, #1",
  // pc-relative
  "adr x0, back", "adr x1, fwd", "adrp x2, fwd", "adrp x3, back",
  // logical shifted register
  "mov x0, x1", "mov w0, w1", "mov x0, xzr", "mvn x0, x1", "mvn w0, w1, lsl #3",
  "tst x0, x1", "tst w0, w1, ror #7",
  "and x0, x1, x2", "and w0, w1, w2, lsr #3", "bic x0, x1, x2", "bic w0, w1, w2, asr #31",
  "orr x0, x1, x2, lsl #4", "orr x0, xzr, x2, lsl #1", "orn x0, x1, x2", "eor x0, x1, x2, ror #63", "eon w0, w1, w2",
  "ands x0, x1, x2", "bics x0, x1, x2, lsl #2",
  // add/sub shifted and extended register
  "add x0, x1, x2", "add w0, w1, w2, lsl #31", "add x0, x1, x2, asr #3",
  "add sp, sp, x1", "add x0, sp, x1, lsl #2", "add x0, x1, w2, uxtw", "add x0, x1, w2, sxtw #2", "add w0, w1, w2, uxtb", "add x0, x1, x2, sxtx #4",
  "cmn x0, x1", "cmn x0, w1, uxth", "adds x0, x1, x2, lsl #1", "adds x0, sp, w2, sxtw",
  "neg x0, x1", "neg w0, w1, lsl #2", "sub x0, x1, x2", "sub x0, x1, x2, lsr #1", "sub sp, sp, x0", "sub x0, x1, w2, uxtb #1",
  "cmp x0, x1", "cmp w0, w1, asr #2", "cmp sp, x1", "cmp x0, w1, sxtw",
  "negs x0, x1", "subs x0, x1, x2", "subs x0, x1, w2, uxtw",
  // with carry
  "adc x0, x1, x2", "adcs w0, w1, w2", "sbc x0, x1, x2", "sbcs w0, w1, w2", "ngc x0, x1", "ngcs w0, w1",
  // conditional compare and select
  "ccmn x0, x1, #0x0, eq", "ccmn w0, #0x1f, #0xf, ne", "ccmp x0, x1, #0x4, lt", "ccmp x0, #0x3, #0x2, hi",
  "csel x0, x1, x2, eq", "csel w0, w1, w2, al", "cset x0, eq", "cset w0, hi", "cinc x0, x1, ne", "csinc x0, x1, x2, ge",
  "csetm x0, lt", "cinv x0, x1, cs", "csinv w0, w1, w2, cc", "cneg x0, x1, mi", "csneg x0, x1, x2, pl",
  // 3 source
  "mul x0, x1, x2", "mul w0, w1, w2", "madd x0, x1, x2, x3", "mneg x0, x1, x2", "msub w0, w1, w2, w3",
  "smull x0, w1, w2", "smaddl x0, w1, w2, x3", "smnegl x0, w1, w2", "smsubl x0, w1, w2, x3",
  "umull x0, w1, w2", "umaddl x0, w1, w2, x3", "umnegl x0, w1, w2", "umsubl x0, w1, w2, x3",
  "smulh x0, x1, x2", "umulh x0, x1, x2",
  // 2 source
  "udiv x0, x1, x2", "udiv w0, w1, w2", "sdiv x0, x1, x2", "lsl x0, x1, x2", "lsr w0, w1, w2", "asr x0, x1, x2", "ror x0, x1, x2",
  "lslv x0, x1, x2", "lsrv w0, w1, w2", "asrv x0, x1, x2", "rorv w0, w1, w2",
  // 1 source
  "rbit x0, x1", "rev16 w0, w1", "rev32 x0, x1", "rev w0, w1", "rev x0, x1", "clz x0, x1", "clz w0, w1", "cls x0, x1",
  // branches
  "b back", "b fwd", "bl back", "b.eq back", "b.ne fwd", "b.hs fwd", "b.lo back", "b.al fwd",
  "cbz x0, back", "cbz w0, fwd", "cbnz x1, fwd", "tbz x0, #63, fwd", "tbz w0, #3, back", "tbnz x0, #32, back",
  "br x0", "blr x1", "ret", "ret x3", "eret",
  // system
  "svc #0x0", "hvc #0x0", "hvc #0xffff", "smc #0x1",
  "nop", "yield", "wfe", "wfi", "sev", "sevl", "hint #0x6",
  "clrex", "clrex #0x3", "dsb sy", "dsb ish", "dsb nshst", "dmb ish", "dmb oshld", "isb", "isb #0x3",
  "msr daifset, #0xf", "msr daifclr, #0x2", "msr spsel, #0x1",
  "dc civac, x0", "dc cisw, x1", "dc cvac, x2", "dc zva, x3", "dc ivac, x4", "dc isw, x5", "dc csw, x6", "dc cvau, x7",
  "ic iallu", "ic ialluis", "ic ivau, x0",
  "at s1e1r, x0", "at s12e1w, x1", "at s1e2r, x2",
  "tlbi vmalle1", "tlbi vmalle1is", "tlbi alle2", "tlbi vae1, x0", "tlbi ipas2e1is, x1", "tlbi vmalls12e1is",
  "sys #0x1, C2, C3, #0x4, x5", "sys #0x0, C7, C5, #0x7",
  "mrs x0, s3_0_c1_c0_0", "msr s3_0_c1_c0_0, x0", "mrs x1, s3_4_c1_c1_0", "msr s3_4_c2_c1_0, x2", "mrs x3, s2_0_c0_c2_2",
  // loads and stores
  ...ldst,
  "ldr w0, lit", "ldr x0, lit", "ldrsw x0, lit",
  "prfm pldl1keep, [x0]", "prfm pstl2strm, [sp, #8]", "prfm #0x1f, [x0, #32760]", "prfum plil3keep, [x1, #-3]", "prfm pldl1strm, lit",
  "prfm pldl1keep, [x0, x1, lsl #3]", "prfm pldl2keep, [x0, w1, sxtw]",
  ...pairs,
  ...excl,
];

/**
 * Assembler-only spellings (GNU as conveniences with no decoder entry of their own): entry name →
 * [example, the decoder form it must assemble to]; the second is GNU as 2.40's objdump output.
 */
export const ASM_ONLY_EXAMPLES: Record<string, [string, string]> = {
  ADD_imm_negated: ["add x0, x1, #-5", "sub x0, x1, #0x5"],
  ADDS_imm_negated: ["adds w0, w1, #-0x10, lsl #12", "subs w0, w1, #0x10, lsl #12"],
  SUB_imm_negated: ["sub sp, sp, #-16", "add sp, sp, #0x10"],
  SUBS_imm_negated: ["subs x3, x4, #-1", "adds x3, x4, #0x1"],
  CMP_imm_negated: ["cmp x0, #-1", "cmn x0, #0x1"],
  CMN_imm_negated: ["cmn w2, #-2", "cmp w2, #0x2"],
  UXTB_x_asm: ["uxtb x5, w13", "uxtb w5, w13"],
  UXTH_x_asm: ["uxth x5, w13", "uxth w5, w13"],
  UXTW_x_asm: ["uxtw x5, w13", "mov w5, w13"],
  B_cond_nodot: ["bne .+8", "b.ne .+8"],
};
