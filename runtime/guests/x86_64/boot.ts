// The built-in x86-64 boot guest, in the spirit of kvm-unit-tests' x86/cstart64.S (2015): entered
// in 32-bit protected mode with paging off and flat segments, as a Multiboot loader leaves it, at
// 0x400000. It loads a GDT with a 64-bit code segment, enables PAE (CR4), loads CR3 with static
// identity-mapping page tables (2 MiB pages, the first 8 MiB), sets EFER.LME with rdmsr/wrmsr,
// turns paging on (CR0.PG) — long mode becomes active — and far-jumps to 64-bit code. There it
// reads its data (a new page), prints a line on the serial port and ends through isa-debug-exit.
// Kept as a TypeScript string because tsc does not copy .s files into dist/.

import { LONG_MODE_ENTRY, LONG_MODE_TABLES } from "./long-mode.js";

export const X86_BOOT_BASE = 0x400000n;

export const X86_BOOT_SOURCE = String.raw`
/* exitlab x86-64 boot guest (after kvm-unit-tests x86/cstart64.S) */
	.code32
	.globl start
start:
	mov $stacktop, %esp		/* a stack, as cstart64.S sets one up first */
	mov %ebx, %edi			/* keep the multiboot info pointer */
${LONG_MODE_ENTRY}	mov $stacktop, %rsp
	mov boot_magic(%rip), %rax	/* touch the data page */
	cmp $0x2badb002, %rax
	jne fail
	lea hello(%rip), %rsi
	call puts
	xor %eax, %eax			/* exit code 0 */
	out %al, $0xf4			/* isa-debug-exit */
fail:
	mov $1, %eax
	out %al, $0xf4
	hlt

/* puts: write the NUL-terminated string at %rsi to COM1 */
puts:
	mov $0x3f8, %dx
1:	movzbl (%rsi), %eax
	test %al, %al
	jz 2f
	out %al, (%dx)
	inc %rsi
	jmp 1b
2:	ret

${LONG_MODE_TABLES}
	.balign 4096, 0
boot_magic:
	.quad 0x2badb002
hello:
	.asciz "exitlab x86-64: long mode ok\n"

	.balign 4096, 0
stack:
	.space 4096
stacktop:
`;
