// The built-in x86-64 boot guest, in the spirit of kvm-unit-tests' x86/cstart64.S (2015): entered
// in 32-bit protected mode with paging off and flat segments, as a Multiboot loader leaves it, at
// 0x400000. It loads a GDT with a 64-bit code segment, enables PAE (CR4), loads CR3 with static
// identity-mapping page tables (2 MiB pages, the first 8 MiB), sets EFER.LME with rdmsr/wrmsr,
// turns paging on (CR0.PG) — long mode becomes active — and far-jumps to 64-bit code. There it
// reads its data (a new page), prints a line on the serial port and ends through isa-debug-exit.
// Kept as a TypeScript string because tsc does not copy .s files into dist/.

export const X86_BOOT_BASE = 0x400000n;

export const X86_BOOT_SOURCE = String.raw`
/* exitlab x86-64 boot guest (after kvm-unit-tests x86/cstart64.S) */
	.code32
	.globl start
start:
	mov $stacktop, %esp		/* a stack, as cstart64.S sets one up first */
	mov %ebx, %edi			/* keep the multiboot info pointer */
	lgdtl gdt64_desc		/* GDT with a 64-bit code segment */
	mov %cr4, %eax
	bts $5, %eax			/* CR4.PAE */
	mov %eax, %cr4
	mov $ptl4, %eax
	mov %eax, %cr3			/* page-table root */
	mov $0xc0000080, %ecx		/* EFER */
	rdmsr
	bts $8, %eax			/* EFER.LME */
	wrmsr
	mov %cr0, %eax
	bts $0, %eax			/* CR0.PE */
	bts $31, %eax			/* CR0.PG: long mode becomes active */
	mov %eax, %cr0
	ljmpl $8, $start64

	.code64
start64:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $stacktop, %rsp
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

	.align 8
gdt64:
	.quad 0				/* null descriptor */
	.quad 0x00af9b000000ffff	/* 0x08: 64-bit code, DPL 0 */
	.quad 0x00cf93000000ffff	/* 0x10: data */
gdt64_end:
gdt64_desc:
	.word gdt64_end - gdt64 - 1
	.long gdt64

	.balign 4096, 0
ptl4:	.quad ptl3 + 7
	.fill 511, 8, 0
ptl3:	.quad ptl2 + 7
	.fill 511, 8, 0
ptl2:	.quad 0x0000001e7		/* 2 MiB pages: P, RW, US, A, D, PS, G */
	.quad 0x0002001e7
	.quad 0x0004001e7
	.quad 0x0006001e7
	.fill 508, 8, 0

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
