// Entering 64-bit mode from the Multiboot hand-off (32-bit protected mode, paging off, flat
// segments), as kvm-unit-tests' x86/cstart64.S does: a GDT with a 64-bit code segment, CR4.PAE,
// CR3 = static identity-mapping page tables (2 MiB pages, the first 8 MiB), EFER.LME with
// rdmsr/wrmsr, CR0.PG (long mode becomes active), a far jump to 64-bit code. Shared by the
// built-in boot guest, the bench and the tests' 64-bit programs. Sources: Intel SDM Vol. 3
// 9.8.5 "Initializing IA-32e Mode", 4.5 (4-level paging), 3.4.5 (segment descriptors).

/** 32-bit code that enters long mode and continues at `start64` with the data segments loaded (needs LONG_MODE_TABLES). */
export const LONG_MODE_ENTRY = String.raw`
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
`;

/** The GDT (null, 64-bit code at 0x08, data at 0x10) and the page tables LONG_MODE_ENTRY loads. */
export const LONG_MODE_TABLES = String.raw`
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
`;
