// The built-in arm64 boot guest, in the spirit of kvm-unit-tests' arm/cstart64.S and
// lib/arm64/asm_mmu_enable (2015), on a mach-virt-like map: loaded at 0x40080000 (RAM from
// 0x40000000) and entered at EL1 with MMU and caches off and the device tree's address in x0, as
// QEMU starts a kernel. It sets up a stack (a 64 KiB page below 0x400b0000), installs exception
// vectors, zeroes its bss byte by byte, reads the device tree header's totalsize, saves it in its
// data page, zeroes two 64 KiB page-table pages with pair stores and builds an identity map
// (512 MiB blocks: Device for the UART, Normal write-back for RAM), writes TCR_EL1, MAIR_EL1,
// TTBR0_EL1, then SCTLR_EL1 with M, C and I set, prints a line on the PL011 UART and powers off
// through PSCI SYSTEM_OFF (HVC). Kept as a TypeScript string because tsc does not copy .s files.

export const ARM64_BOOT_BASE = 0x4008_0000n;
/** Where the VMM places the device tree blob (passed in x0). */
export const ARM64_DTB_BASE = 0x4400_0000;

export const ARM64_BOOT_SOURCE = String.raw`
/* exitlab arm64 boot guest (after kvm-unit-tests arm/cstart64.S and asm_mmu_enable) */
	.equ	UART0_DR,	0x09000000
	.equ	STACK_TOP,	0x400b0000
	.equ	BSS_START,	0x400b0000
	.equ	BSS_SIZE,	64
	.equ	PGTABLE_L1,	0x400c0000	/* level 1: one entry, the level-2 table */
	.equ	PGTABLE_L2,	0x400d0000	/* level 2: 512 MiB blocks */
	.equ	PGTABLE_END,	0x400e0000
	.equ	FDT_MAGIC,	0xd00dfeed
	.equ	PSCI_SYSTEM_OFF, 0x84000008
	/* TCR_EL1: T0SZ 16 (48-bit VA), IRGN0/ORGN0 write-back write-allocate, SH0 inner, TG0 64 KiB, EPD1 */
	.equ	TCR_VALUE,	0x807510
	/* MAIR_EL1: attr0 Device-nGnRnE, attr1 Device-nGnRE, attr2 Device-GRE, attr3 Normal NC, attr4 Normal WB */
	.equ	MAIR_VALUE,	0xff440c0400
	.equ	PTE_L2_TABLE,	0x400d0003	/* PGTABLE_L2 | table descriptor */
	.equ	PTE_DEVICE_BLOCK, 0x401		/* 0x00000000, AF, AttrIndx 0, block */
	.equ	PTE_RAM_BLOCK,	0x40000711	/* 0x40000000, AF, inner shareable, AttrIndx 4, block */

	.text
	.globl	start
start:
	ldr	x4, =STACK_TOP
	mov	sp, x4
	mov	x19, x0			/* the device tree blob */
	adr	x1, vectors
	msr	vbar_el1, x1
	bl	main
	b	halt

main:
	stp	x29, x30, [sp, #-32]!	/* first use of the stack page: a pair store */
	mov	x29, sp
	bl	zero_bss
	mov	x0, x19
	bl	dtb_size
	mov	x20, x0
	adr	x1, boot_info
	str	x20, [x1, #8]		/* first use of the data page: a doubleword store */
	bl	build_page_tables
	ldr	x0, =PGTABLE_L1
	bl	mmu_enable
	adr	x0, hello
	bl	puts
	ldp	x29, x30, [sp], #32
	ret

zero_bss:
	ldr	x1, =BSS_START
	mov	w4, #0
	mov	x2, #BSS_SIZE
1:	strb	w4, [x1]
	add	x1, x1, #1
	subs	x2, x2, #1
	b.ne	1b
	ret

/* x0 = device tree blob; returns its totalsize, or 0 if the magic is wrong */
dtb_size:
	ldr	w3, [x0, #4]		/* fdt_header.totalsize (big-endian) */
	ldr	w2, [x0]		/* fdt_header.magic */
	rev	w3, w3
	rev	w2, w2
	ldr	w5, =FDT_MAGIC
	cmp	w2, w5
	csel	w0, w3, wzr, eq
	ret

build_page_tables:
	ldr	x0, =PGTABLE_L1
	ldr	x1, =PGTABLE_END
1:	stp	xzr, xzr, [x0], #16	/* zero both table pages */
	cmp	x0, x1
	b.lo	1b
	ldr	x0, =PGTABLE_L1
	ldr	x1, =PTE_L2_TABLE
	str	x1, [x0]
	ldr	x0, =PGTABLE_L2
	ldr	x1, =PTE_DEVICE_BLOCK
	str	x1, [x0]		/* 0x00000000-0x1fffffff: devices (the UART) */
	ldr	x1, =PTE_RAM_BLOCK
	str	x1, [x0, #16]		/* 0x40000000-0x5fffffff: RAM */
	ret

/* x0 = TTBR0 value (asm_mmu_enable) */
mmu_enable:
	ic	iallu
	tlbi	vmalle1is
	dsb	ish
	ldr	x1, =TCR_VALUE
	mrs	x2, id_aa64mmfr0_el1
	bfi	x1, x2, #32, #3		/* TCR_EL1.IPS = ID_AA64MMFR0_EL1.PARange */
	msr	tcr_el1, x1
	ldr	x1, =MAIR_VALUE
	msr	mair_el1, x1
	msr	ttbr0_el1, x0
	isb
	mrs	x1, sctlr_el1
	orr	x1, x1, #0x4		/* C */
	orr	x1, x1, #0x1000		/* I */
	orr	x1, x1, #0x1		/* M */
	msr	sctlr_el1, x1
	isb
	ret

/* x0 = NUL-terminated string, written to the PL011 data register */
puts:
	ldr	x2, =UART0_DR
1:	ldrb	w1, [x0], #1
	cbz	w1, 2f
	strb	w1, [x2]
	b	1b
2:	ret

halt:
	ldr	x0, =PSCI_SYSTEM_OFF
	hvc	#0
	b	halt

unexpected:
	adr	x0, unexpected_msg
	bl	puts
	b	halt

	.ltorg
hello:
	.asciz	"exitlab: hello from the arm64 guest, MMU and caches on\n"
unexpected_msg:
	.asciz	"exitlab: unexpected exception\n"

	.balign	2048
vectors:			/* 16 entries of 128 bytes: every exception ends the test */
	b	unexpected
	.balign	128
	b	unexpected
	.balign	128
	b	unexpected
	.balign	128
	b	unexpected
	.balign	128
	b	unexpected
	.balign	128
	b	unexpected
	.balign	128
	b	unexpected
	.balign	128
	b	unexpected
	.balign	128
	b	unexpected
	.balign	128
	b	unexpected
	.balign	128
	b	unexpected
	.balign	128
	b	unexpected
	.balign	128
	b	unexpected
	.balign	128
	b	unexpected
	.balign	128
	b	unexpected
	.balign	128
	b	unexpected

	.data
	.balign	65536
boot_info:
	.quad	0			/* reserved */
	.quad	0			/* device tree size */
`;
