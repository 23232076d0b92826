// The x87 and SSE architectural state of one x86 vCPU, and the memory images FXSAVE and XSAVE
// write of it. No x87 arithmetic is modelled: the data registers ST0-ST7 are kept as the bytes
// FXRSTOR/XRSTOR gave them (so a save after a restore gives them back), the control, status and
// tag words as the control instructions (semantics/x87.ts) set them. XMM0-XMM15 are 16 bytes each
// in a Uint32Array (element 4n + k is bits 32k+31..32k of XMMn), no BigInt on the register path.
//
// Sources: Intel SDM Vol. 1 8.1 (x87 state), 10.2.3 (MXCSR), 13.4 (the XSAVE area and its header);
// Vol. 2A FXSAVE, Tables 3-43 and 3-44 ("Non-64-bit-Mode Layout", "Layout of the 64-bit-mode FXSAVE64
// Map"); Vol. 3A Table 10-1 (state after power-up, reset, INIT). The values after reset are those
// KVM gives a new vCPU (fpstate_init_fxstate, arch/x86/kernel/fpu/core.c: FCW 0x37f, MXCSR 0x1f80,
// every tag empty) and QEMU's x86_cpu_reset (target/i386/cpu.c: fpuc 0x37f, fptags all empty).

/** MXCSR after reset (SDM Vol. 1 10.2.3.1: all exceptions masked, round to nearest). */
export const MXCSR_RESET = 0x1f80;
/** MXCSR_MASK of the modelled CPU (SDM Vol. 1 11.6.6: 0xffff when DAZ is supported, as on every CPU since Pentium 4). */
export const MXCSR_MASK = 0xffff;
/** FCW after FNINIT and at reset (SDM Vol. 2 FINIT/FNINIT: 037FH). */
export const FCW_INIT = 0x037f;

/** Bytes of the FXSAVE area and of the XSAVE legacy region (SDM Vol. 2A FXSAVE). */
export const FXSAVE_SIZE = 512;
/** Bytes of the XSAVE header, which follows the legacy region (SDM Vol. 1 13.4.2). */
export const XSAVE_HEADER_SIZE = 64;

/**
 * The fields of the FXSAVE image and of the XSAVE legacy region, by byte offset and size (SDM Vol.
 * 2A FXSAVE Tables 3-43/3-44). `fip64`/`fdp64`: the 64-bit-mode layout (FXSAVE64, REX.W) has no FCS
 * and FDS: FIP and FDP are 64 bits wide there.
 */
export const FXSAVE_LAYOUT = {
  fcw: { offset: 0, size: 2 },
  fsw: { offset: 2, size: 2 },
  /** The abridged tag word: one bit per data register, 1 = valid (SDM Vol. 2A FXSAVE "Abridged x87 FPU tag word"). */
  ftw: { offset: 4, size: 1 },
  fop: { offset: 6, size: 2 },
  fip: { offset: 8, size: 4 },
  fcs: { offset: 12, size: 2 },
  fdp: { offset: 16, size: 4 },
  fds: { offset: 20, size: 2 },
  fip64: { offset: 8, size: 8 },
  fdp64: { offset: 16, size: 8 },
  mxcsr: { offset: 24, size: 4 },
  mxcsrMask: { offset: 28, size: 4 },
  /** ST0-ST7 (or MM0-MM7), 10 bytes each in a 16-byte slot. */
  st: { offset: 32, size: 16 },
  /** XMM0-XMM15 (XMM0-XMM7 outside 64-bit mode), 16 bytes each. */
  xmm: { offset: 160, size: 16 },
} as const;

/**
 * XSAVE state components (SDM Vol. 1 13.1, Table 13-1 and 13.2 for the standard-format offsets):
 * bit number, Linux's XFEATURE_ name, offset and size in the standard form. x87 and SSE live in
 * the legacy region (their offset is the region's); AVX's upper YMM halves (YMM_Hi128) are
 * component 2 at 576, 256 bytes (CPUID.(EAX=0DH,ECX=2) on every Intel CPU with AVX).
 */
export const XSAVE_COMPONENTS = [
  { bit: 0, name: "FP", offset: 0, size: 160 },
  { bit: 1, name: "SSE", offset: 160, size: 256 },
  { bit: 2, name: "YMM", offset: 576, size: 256 },
] as const;

/** XCR0 bits this model supports: x87, SSE and AVX (the components above). */
export const SUPPORTED_XCR0 = XSAVE_COMPONENTS.reduce((m, c) => m | (1n << BigInt(c.bit)), 0n);

/** XCR0 bits (SDM Vol. 1 13.3; Linux XFEATURE_MASK_*). */
export const XFEATURE = { FP: 1n, SSE: 2n, YMM: 4n } as const;

/**
 * Bytes of an XSAVE area holding the components in `xcr0`, legacy region and header included: what
 * CPUID.(EAX=0DH,ECX=0):EBX reports for the current XCR0 and ECX for every supported component (KVM's
 * xstate_required_size, arch/x86/kvm/cpuid.c: 576 plus each extended component's offset + size).
 */
export function xstateRequiredSize(xcr0: bigint): number {
  let size = FXSAVE_SIZE + XSAVE_HEADER_SIZE;
  for (const c of XSAVE_COMPONENTS) if (c.bit >= 2 && (xcr0 >> BigInt(c.bit)) & 1n) size = Math.max(size, c.offset + c.size);
  return size;
}

/** The x87, MXCSR and XMM registers of one vCPU. */
export class X86FpuState {
  /** x87 control word (SDM Vol. 1 8.1.5). */
  fcw = FCW_INIT;
  /** x87 status word (SDM Vol. 1 8.1.3). */
  fsw = 0;
  /** Abridged tag word: bit i set = physical register i valid (0 = all empty). */
  ftw = 0;
  /** Last x87 opcode (11 bits), instruction and data pointers (FIP/FDP, FCS/FDS). */
  fop = 0;
  fip = 0n;
  fcs = 0;
  fdp = 0n;
  fds = 0;
  /** ST0-ST7 as stored: 10 bytes each. */
  readonly st = new Uint8Array(80);
  /** MXCSR (SDM Vol. 1 10.2.3). */
  mxcsr = MXCSR_RESET;
  /** XMM0-XMM15: XMMn is elements 4n..4n+3, least significant first. */
  readonly xmm = new Uint32Array(64);
  /** Bits 255:128 of YMM0-YMM15, laid out as `xmm` (legacy SSE leaves them, VEX.128 zeroes them). */
  readonly ymmHi = new Uint32Array(64);

  /** FNINIT (SDM Vol. 2 FINIT/FNINIT): FCW 037FH, FSW 0, every tag empty, pointers and opcode 0. MXCSR and XMM stay. */
  initX87(): void {
    this.fcw = FCW_INIT;
    this.fsw = 0;
    this.ftw = 0;
    this.fop = 0;
    this.fip = 0n;
    this.fcs = 0;
    this.fdp = 0n;
    this.fds = 0;
  }

  /** XRSTOR's initial configuration of component 0 (SDM Vol. 1 13.6): FNINIT's state and ST0-ST7 zero. */
  initFp(): void {
    this.initX87();
    this.st.fill(0);
  }

  /** XRSTOR's initial configuration of component 1: XMM0-XMM15 zero (MXCSR is loaded separately). */
  initSse(): void {
    this.xmm.fill(0);
  }

  /** XRSTOR's initial configuration of component 2: bits 255:128 of every YMM register zero. */
  initYmm(): void {
    this.ymmHi.fill(0);
  }
}

/** Little-endian field access on a byte image. */
function put(b: Uint8Array, offset: number, size: number, v: bigint): void {
  for (let i = 0; i < size; i++) b[offset + i] = Number((v >> BigInt(8 * i)) & 0xffn);
}
function get(b: Uint8Array, offset: number, size: number): bigint {
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[offset + i]!);
  return v;
}

/**
 * Write the legacy-region fields of `f` into `image` (512 bytes, FXSAVE's layout). `parts`: which
 * to write — x87 (FCW..FDS and ST0-7), MXCSR (with MXCSR_MASK), XMM (the first `xmmCount` registers).
 * `wide`: the 64-bit FIP/FDP layout (FXSAVE64). Bytes not written keep their value.
 */
export function storeLegacy(f: X86FpuState, image: Uint8Array, parts: { x87: boolean; mxcsr: boolean; xmm: boolean }, wide: boolean, xmmCount: number): void {
  const L = FXSAVE_LAYOUT;
  if (parts.x87) {
    put(image, L.fcw.offset, 2, BigInt(f.fcw));
    put(image, L.fsw.offset, 2, BigInt(f.fsw));
    put(image, L.ftw.offset, 1, BigInt(f.ftw));
    image[5] = 0;
    put(image, L.fop.offset, 2, BigInt(f.fop));
    if (wide) {
      put(image, L.fip64.offset, 8, f.fip);
      put(image, L.fdp64.offset, 8, f.fdp);
    } else {
      put(image, L.fip.offset, 4, f.fip);
      put(image, L.fcs.offset, 4, BigInt(f.fcs));
      put(image, L.fdp.offset, 4, f.fdp);
      put(image, L.fds.offset, 4, BigInt(f.fds));
    }
    for (let i = 0; i < 8; i++) {
      const at = L.st.offset + 16 * i;
      image.set(f.st.subarray(10 * i, 10 * i + 10), at);
      image.fill(0, at + 10, at + 16);
    }
  }
  if (parts.mxcsr) {
    put(image, L.mxcsr.offset, 4, BigInt(f.mxcsr));
    put(image, L.mxcsrMask.offset, 4, BigInt(MXCSR_MASK));
  }
  if (parts.xmm) {
    for (let n = 0; n < xmmCount; n++) for (let k = 0; k < 4; k++) put(image, L.xmm.offset + 16 * n + 4 * k, 4, BigInt(f.xmm[4 * n + k]!));
  }
}

/** The MXCSR value of a legacy region (for the reserved-bit check before anything is loaded). */
export function imageMxcsr(image: Uint8Array): number {
  return Number(get(image, FXSAVE_LAYOUT.mxcsr.offset, 4));
}

/** Load the legacy-region fields `parts` of `image` into `f` (the inverse of storeLegacy; the caller has checked MXCSR). */
export function loadLegacy(f: X86FpuState, image: Uint8Array, parts: { x87: boolean; mxcsr: boolean; xmm: boolean }, wide: boolean, xmmCount: number): void {
  const L = FXSAVE_LAYOUT;
  if (parts.x87) {
    f.fcw = Number(get(image, L.fcw.offset, 2));
    f.fsw = Number(get(image, L.fsw.offset, 2));
    f.ftw = Number(get(image, L.ftw.offset, 1));
    f.fop = Number(get(image, L.fop.offset, 2)) & 0x7ff;
    if (wide) {
      f.fip = get(image, L.fip64.offset, 8);
      f.fdp = get(image, L.fdp64.offset, 8);
      f.fcs = 0;
      f.fds = 0;
    } else {
      f.fip = get(image, L.fip.offset, 4);
      f.fcs = Number(get(image, L.fcs.offset, 2));
      f.fdp = get(image, L.fdp.offset, 4);
      f.fds = Number(get(image, L.fds.offset, 2));
    }
    for (let i = 0; i < 8; i++) f.st.set(image.subarray(L.st.offset + 16 * i, L.st.offset + 16 * i + 10), 10 * i);
  }
  if (parts.mxcsr) f.mxcsr = imageMxcsr(image);
  if (parts.xmm) {
    for (let n = 0; n < xmmCount; n++) for (let k = 0; k < 4; k++) f.xmm[4 * n + k] = Number(get(image, L.xmm.offset + 16 * n + 4 * k, 4));
  }
}
