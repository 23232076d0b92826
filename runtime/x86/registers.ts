// Register names the x86 machine accepts (read/write/show), 64-bit and 32-bit views of the GPRs.

export const GPR64_NAMES = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];
export const GPR32_NAMES = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"];
const OTHER = ["rip", "rflags", "cr0", "cr2", "cr3", "cr4", "cr8", "efer", "cs", "ds", "es", "fs", "gs", "ss"];
export const X86_REGISTER_NAMES: readonly string[] = [...GPR64_NAMES, ...GPR32_NAMES, ...OTHER];
