// Exit-qualification layouts, declared once and read by the hardware model (encode), KVM (decode),
// the trace/`show exit` (decode, names), `decode qual KIND VALUE` and the tests. Intel SDM Vol. 3,
// "Exit Qualification for ..." tables, numbered 27-x in older editions and 28-x or 29-x in newer
// ones (x = 3 control-register accesses, 5 I/O instructions, 7 EPT violations);
// interruption information: 24.9.2, Table 24-15 (VM-exit interruption information), 24.9.3
// Table 24-16 (IDT-vectoring information).

import type { BitField, BitLayout, BitValues } from "../../core/bitfields.js";
export { encodeBits as encodeQual, decodeBits as decodeQual, describeBits as describeQual } from "../../core/bitfields.js";

export type QualField = BitField;
export type QualLayout = BitLayout;
export type QualValues = BitValues;

export const CR_ACCESS_QUAL: QualLayout = {
  name: "CR access",
  source: "Intel SDM Vol. 3 Table 27-3, 28-3 or 29-3 by edition",
  fields: [
    { name: "cr", lsb: 0, width: 4, doc: "number of the control register (0 for CLTS and LMSW)" },
    { name: "access_type", lsb: 4, width: 2, values: ["mov-to-cr", "mov-from-cr", "clts", "lmsw"], doc: "access type" },
    { name: "lmsw_operand", lsb: 6, width: 1, values: ["register", "memory"], doc: "LMSW operand type" },
    { name: "gpr", lsb: 8, width: 4, doc: "general register of MOV CR (0 = RAX ... 15 = R15)" },
    { name: "lmsw_source", lsb: 16, width: 16, radix: "hex", doc: "LMSW source data" },
  ],
};

export const IO_QUAL: QualLayout = {
  name: "I/O instruction",
  source: "Intel SDM Vol. 3 Table 27-5, 28-5 or 29-5 by edition",
  fields: [
    { name: "size", lsb: 0, width: 3, doc: "size of access minus one (0 = 1 byte, 1 = 2 bytes, 3 = 4 bytes)" },
    { name: "direction", lsb: 3, width: 1, values: ["out", "in"], doc: "direction (0 = OUT, 1 = IN)" },
    { name: "string", lsb: 4, width: 1, doc: "string instruction (INS/OUTS)" },
    { name: "rep", lsb: 5, width: 1, doc: "REP prefix" },
    { name: "operand_encoding", lsb: 6, width: 1, values: ["dx", "immediate"], doc: "port operand: 0 = DX, 1 = immediate" },
    { name: "port", lsb: 16, width: 16, radix: "hex", doc: "port number" },
  ],
};

export const EPT_VIOLATION_QUAL: QualLayout = {
  name: "EPT violation",
  source: "Intel SDM Vol. 3 Table 27-7, 28-7 or 29-7 by edition",
  fields: [
    { name: "read", lsb: 0, width: 1, doc: "the access was a data read" },
    { name: "write", lsb: 1, width: 1, doc: "the access was a data write" },
    { name: "fetch", lsb: 2, width: 1, doc: "the access was an instruction fetch" },
    { name: "readable", lsb: 3, width: 1, doc: "the EPT translation allowed reads (AND of bit 0 of the EPT entries)" },
    { name: "writable", lsb: 4, width: 1, doc: "the EPT translation allowed writes (AND of bit 1)" },
    { name: "executable", lsb: 5, width: 1, doc: "the EPT translation allowed instruction fetches (AND of bit 2; supervisor-mode with mode-based execute control)" },
    { name: "user_executable", lsb: 6, width: 1, doc: "with mode-based execute control for EPT: the translation allowed user-mode fetches (AND of bit 10); else undefined" },
    { name: "gla_valid", lsb: 7, width: 1, doc: "GUEST_LINEAR_ADDRESS is valid" },
    { name: "final_translation", lsb: 8, width: 1, doc: "1: access to the final guest-physical address; 0: to a guest paging-structure entry" },
    { name: "user_linear", lsb: 9, width: 1, values: ["supervisor", "user"], doc: "advanced VM-exit information, with bits 7 and 8 set: the linear address is user-mode" },
    { name: "rw_page", lsb: 10, width: 1, values: ["read-only", "read/write"], doc: "advanced VM-exit information, with bits 7 and 8 set: guest paging maps the address read/write" },
    { name: "nx_page", lsb: 11, width: 1, values: ["executable", "execute-disable"], doc: "advanced VM-exit information, with bits 7 and 8 set: guest paging maps the address execute-disable" },
    { name: "nmi_unblocking", lsb: 12, width: 1, doc: "NMI unblocking due to IRET" },
    { name: "shadow_stack", lsb: 13, width: 1, doc: "the access was a shadow-stack access" },
    { name: "supervisor_shadow_stack", lsb: 14, width: 1, doc: "with supervisor shadow-stack control: the translation is a supervisor shadow-stack page (AND of bit 60)" },
    { name: "guest_paging_verification", lsb: 15, width: 1, doc: "the violation comes from guest-paging verification" },
    { name: "asynchronous", lsb: 16, width: 1, doc: "the access was asynchronous to instruction execution and not part of event delivery" },
  ],
};

/** VM-exit interruption information and IDT-vectoring information (SDM Tables 24-15/24-16). */
export const INTR_INFO: QualLayout = {
  name: "interruption information",
  source: "Intel SDM Vol. 3 Tables 24-15, 24-16",
  fields: [
    { name: "vector", lsb: 0, width: 8, doc: "vector of the interrupt or exception" },
    {
      name: "type",
      lsb: 8,
      width: 3,
      values: ["external-interrupt", "reserved", "nmi", "hardware-exception", "software-interrupt", "privileged-software-exception", "software-exception", "other"],
      doc: "interruption type",
    },
    { name: "error_code_valid", lsb: 11, width: 1, doc: "an error code was delivered (VM_EXIT_INTR_ERROR_CODE)" },
    { name: "nmi_unblocking", lsb: 12, width: 1, doc: "NMI unblocking due to IRET" },
    { name: "valid", lsb: 31, width: 1, doc: "the information is valid" },
  ],
};

/** Interruption type numbers (SDM Table 24-15). */
export const INTR_TYPE = { EXTERNAL: 0, NMI: 2, HW_EXCEPTION: 3, SW_INTERRUPT: 4, PRIV_SW_EXCEPTION: 5, SW_EXCEPTION: 6 } as const;

/** Exceptions that push an error code, and their mnemonics: the vector table (SDM Vol. 3 Table 6-1). */
export { ERROR_CODE_VECTORS, EXCEPTION_NAMES } from "../vectors.js";

const MEM_OPERAND_FIELDS: QualField[] = [
  { name: "scaling", lsb: 0, width: 2, doc: "index scaling (0 = none, 1 = 2, 2 = 4, 3 = 8); undefined without an index" },
  { name: "address_size", lsb: 7, width: 3, values: ["16-bit", "32-bit", "64-bit"], doc: "address size" },
  { name: "segment", lsb: 15, width: 3, values: ["es", "cs", "ss", "ds", "fs", "gs"], doc: "segment register (memory operand)" },
  { name: "index_reg", lsb: 18, width: 4, doc: "index register (undefined if index_invalid)" },
  { name: "index_invalid", lsb: 22, width: 1, doc: "no index register" },
  { name: "base_reg", lsb: 23, width: 4, doc: "base register (undefined if base_invalid)" },
  { name: "base_invalid", lsb: 27, width: 1, doc: "no base register" },
];

/** VMX_INSTRUCTION_INFO for LGDT/LIDT/SGDT/SIDT exits (exit reason 46); the qualification is the displacement. */
export const GDTR_IDTR_INFO: QualLayout = {
  name: "GDTR/IDTR access instruction information",
  source: "Intel SDM Vol. 3 Table 27-10 (28-10, 29-10 in later editions)",
  fields: [
    ...MEM_OPERAND_FIELDS,
    { name: "operand_size", lsb: 11, width: 1, values: ["16-bit", "32-bit"], doc: "operand size (undefined in 64-bit mode)" },
    { name: "identity", lsb: 28, width: 2, values: ["sgdt", "sidt", "lgdt", "lidt"], doc: "instruction identity" },
  ].sort((a, b) => a.lsb - b.lsb),
};

/** VMX_INSTRUCTION_INFO for LLDT/LTR/SLDT/STR exits (exit reason 47); the qualification is the displacement. */
export const LDTR_TR_INFO: QualLayout = {
  name: "LDTR/TR access instruction information",
  source: "Intel SDM Vol. 3 Table 27-11 (28-11, 29-11 in later editions)",
  fields: [
    ...MEM_OPERAND_FIELDS,
    { name: "reg1", lsb: 3, width: 4, doc: "register operand (mem_reg = 1)" },
    { name: "mem_reg", lsb: 10, width: 1, values: ["memory", "register"], doc: "operand kind" },
    { name: "identity", lsb: 28, width: 2, values: ["sldt", "str", "lldt", "ltr"], doc: "instruction identity" },
  ].sort((a, b) => a.lsb - b.lsb),
};
