// A synthetic Linux bzImage for the loader's tests: a real-mode part with a setup header written
// at boot.rst's offsets ("The Real-Mode Kernel Header"; literal offsets here, not the loader's
// table, so a wrong table entry shows), then a protected-mode kernel assembled by exitlab's own
// assembler at 0x100000: 32-bit code at +0 (the 32-bit protocol's entry) and 64-bit code at +0x200
// (startup_64, the 64-bit protocol's entry). Both read struct boot_params at RSI/ESI (zero-page.rst
// offsets) and print what they find on COM1 (0x3f8), then exit through isa-debug-exit (0xf4).

import { assembleX86 } from "../../../runtime/x86/isa/index.js";

/** The kernel's code: at +0 (32-bit) and +0x200 (64-bit), loaded at 0x100000. */
export const BZ_PAYLOAD = String.raw`
	.code32
start32:			/* 32-bit boot protocol: ESI = boot_params, paging off */
	mov $0x3f8, %dx
	mov $msg32, %edi
1:	movb (%edi), %al
	test %al, %al
	jz 2f
	out %al, %dx
	inc %edi
	jmp 1b
2:	mov 0x228(%esi), %edi	/* cmd_line_ptr */
3:	movb (%edi), %al
	test %al, %al
	jz 4f
	out %al, %dx
	inc %edi
	jmp 3b
4:	mov $10, %al
	out %al, %dx
	mov $0x32, %al
	out %al, $0xf4
	hlt

	.org 0x200
	.code64
startup_64:			/* 64-bit boot protocol: RSI = boot_params */
	mov $stack_top, %rsp	/* the protocol promises no stack */
	mov %rsi, %rbx
	mov $m_bp, %rdi
	mov %rbx, %rax
	call field
	mov $m_cs, %rdi
	xor %eax, %eax
	mov %cs, %ax
	call field
	mov $m_ds, %rdi
	xor %eax, %eax
	mov %ds, %ax
	call field
	mov $m_version, %rdi
	movzwl 0x206(%rbx), %eax
	call field
	mov $m_loader, %rdi
	movzbl 0x210(%rbx), %eax
	call field
	mov $m_kernel_alignment, %rdi
	mov 0x230(%rbx), %eax
	call field
	mov $m_cmd_line_ptr, %rdi
	mov 0x228(%rbx), %eax
	call field
	mov $m_cmdline, %rdi
	call puts
	mov 0x228(%rbx), %edi
	call puts
	call newline
	mov $m_ramdisk, %rdi
	mov 0x218(%rbx), %eax
	call field
	mov $m_ramdisk_size, %rdi
	mov 0x21c(%rbx), %eax
	call field
	mov 0x21c(%rbx), %ecx	/* the ramdisk's bytes, as text */
	mov 0x218(%rbx), %esi
	mov $0x3f8, %dx
	test %ecx, %ecx
	jz 6f
5:	movb (%rsi), %al
	out %al, %dx
	inc %rsi
	dec %ecx
	jnz 5b
6:	mov $m_e820, %rdi
	movzbl 0x1e8(%rbx), %eax
	call field
	movzbl 0x1e8(%rbx), %r12d
	lea 0x2d0(%rbx), %r13
7:	test %r12d, %r12d
	jz 8f
	mov $m_entry, %rdi
	call puts
	mov (%r13), %rax
	call hex
	mov $m_sep, %rdi
	call puts
	mov 8(%r13), %rax
	call hex
	mov $m_sep, %rdi
	call puts
	mov 16(%r13), %eax
	call hex
	call newline
	add $20, %r13
	dec %r12d
	jmp 7b
8:	mov $0x64, %al
	out %al, $0xf4
	hlt

field:				/* puts(rdi), hex(rax), newline */
	push %rax
	call puts
	pop %rax
	call hex
	jmp newline
puts:
	mov $0x3f8, %dx
9:	movb (%rdi), %al
	test %al, %al
	jz 10f
	out %al, %dx
	inc %rdi
	jmp 9b
10:	ret
hex:				/* rax as 0x and its hex digits, no leading zeros */
	mov %rax, %r8
	mov $0x3f8, %dx
	mov $0x30, %al
	out %al, %dx
	mov $0x78, %al
	out %al, %dx
	mov $60, %cl
	xor %r9d, %r9d		/* a digit printed yet */
11:	mov %r8, %rax
	shr %cl, %rax
	and $15, %eax
	test %cl, %cl
	jz 12f
	test %r9d, %r9d
	jnz 12f
	test %eax, %eax
	jz 13f
12:	mov $1, %r9d
	movzbl digits(%rax), %eax
	out %al, %dx
13:	sub $4, %cl
	jns 11b
	ret
newline:
	mov $0x3f8, %dx
	mov $10, %al
	out %al, %dx
	ret

digits:	.ascii "0123456789abcdef"
msg32:	.asciz "32-bit entry, cmdline: "
m_bp:	.asciz "boot_params "
m_cs:	.asciz "cs "
m_ds:	.asciz "ds "
m_version:	.asciz "version "
m_loader:	.asciz "type_of_loader "
m_kernel_alignment:	.asciz "kernel_alignment "
m_cmd_line_ptr:	.asciz "cmd_line_ptr "
m_cmdline:	.asciz "cmdline "
m_ramdisk:	.asciz "ramdisk_image "
m_ramdisk_size:	.asciz "ramdisk_size "
m_e820:	.asciz "e820_entries "
m_entry:	.asciz "e820 "
m_sep:	.asciz " "
	.balign 16
	.fill 256, 8, 0
stack_top:
`;

/** Options for makeBzImage; defaults give a protocol 2.15, 64-bit, relocatable kernel. */
export interface BzOptions {
  protocol?: number;
  xloadflags?: number;
  loadflags?: number;
  setupSects?: number;
  initSize?: number;
  cmdlineSize?: number;
  initrdAddrMax?: number;
  /** Replace the "HdrS" magic. */
  magic?: number;
}

/** A bzImage (bytes) with BZ_PAYLOAD as its protected-mode kernel. */
export function makeBzImage(o: BzOptions = {}): Uint8Array {
  const kernel = assembleX86(BZ_PAYLOAD, { base: 0x10_0000n, bits: 32 }).bytes;
  const setupSects = o.setupSects ?? 1;
  const setup = ((setupSects || 4) + 1) * 512;
  const out = new Uint8Array(setup + kernel.length);
  const v = new DataView(out.buffer);
  out[0x1f1] = setupSects;
  v.setUint32(0x1f4, Math.ceil(kernel.length / 16), true); // syssize
  v.setUint16(0x1fe, 0xaa55, true); // boot_flag
  out[0x200] = 0xeb; // jmp short over the header, which ends at 0x202 + this byte
  out[0x201] = 0x26c - 0x202;
  v.setUint32(0x202, o.magic ?? 0x5372_6448, true); // "HdrS"
  v.setUint16(0x206, o.protocol ?? 0x020f, true);
  out[0x211] = o.loadflags ?? 0x01; // LOADED_HIGH
  v.setUint32(0x214, 0x10_0000, true); // code32_start
  v.setUint32(0x22c, o.initrdAddrMax ?? 0x7fff_ffff, true);
  v.setUint32(0x230, 0x20_0000, true); // kernel_alignment
  out[0x234] = 1; // relocatable_kernel
  v.setUint16(0x236, o.xloadflags ?? 0x01, true); // XLF_KERNEL_64
  v.setUint32(0x238, o.cmdlineSize ?? 2047, true);
  v.setBigUint64(0x258, 0x100_0000n, true); // pref_address
  v.setUint32(0x260, o.initSize ?? 0x10_0000, true);
  out.set(kernel, setup);
  return out;
}
