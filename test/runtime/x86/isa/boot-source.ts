// An assembler workout in the shape of kvm-unit-tests' x86 start-up (cstart64.S): mode switches,
// numeric local labels, forward/backward short and near jumps, expressions, data directives.

export const BOOT_SOURCE = `
/* multiboot leaves us in 32-bit protected mode */
.code32
MB_MAGIC = 0x1badb002
.equ MB_FLAGS, 0x0
.set STACK_SIZE, 4096 * 2
    .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
start:
    mov $stacktop, %esp
    push %ebx
    lgdtl gdt64_desc
    mov %cr4, %eax
    bts_loop: orl $(1 << 5), %eax ; mov %eax, %cr4
    mov $pt_root, %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx
    rdmsr
    or $(1 << 8), %eax
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax
    mov %eax, %cr0
    ljmp $0x08, $start64
1:  dec %ecx
    jnz 1b
    jmp far_away
    .space 200, 0xcc
far_away:
    jz 1b
    loop far_away
    jmp 1f
    nop
1:  hlt

.code64
start64:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %eax, %eax
    lea message(%rip), %rsi
    movabs $pt_root, %rdi
    mov $512, %ecx
    rep stosq
    mov stacktop - 8, %rbx
    movq $STACK_SIZE, %rax
    addq $-8, %rax
    cmpb $0, (%rsi)
    je 2f
2:  call print
    mov $0, %al
    outb %al, $0xf4
    hlt
    .p2align 4
print:
    push %rbp
    mov %rsp, %rbp
    mov $0x3f8, %dx
3:  lodsb
    test %al, %al
    jz 4f
    out %al, %dx
    jmp 3b
4:  leave
    ret
.macro outchar c, port=0x3f8
    mov $\\port, %dx
    mov $\\c, %al
    out %al, %dx
.endm
    outchar 'A'
    outchar 0x0a, 0xe9
    .align 32
    nop
    .p2align 4, 0x90

.balign 8, 0
gdt64:
    .quad 0
    .quad 0x00af9b000000ffff
    .quad 0x00cf93000000ffff
gdt64_end:
gdt64_desc:
    .word gdt64_end - gdt64 - 1
    .long gdt64
    .word 'A', 0x1234
    .byte 1, 2, 3, 'z'
message:
    .asciz "hello\\n"
    .ascii "a#b;c"
    .string "x"
    .fill 3, 2, 0xabcd
    .p2align 4, 0
pt_root:
    .skip 64
ptl2:
i = 0
    .rept 8
    .quad 0x1e7 | (i << 21)
    i = i + 1
    .endr
stacktop:
`;
