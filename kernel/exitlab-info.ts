// What kernel_info_reply says about the exitlab language: static data, kept apart from the
// backend so the kernel's main thread can answer kernel_info at once, without waiting for the
// worker to load the language (grammar, both machines, the lab: ~150 modules).

import type { LanguageInfo } from "./backend.js";

export const LANGUAGE_INFO = {
  name: "exitlab",
  version: "0.1.0",
  mimetype: "text/x-exitlab",
  file_extension: ".exl",
  // The classic notebook resolves this by name to the mode the kernelspec's kernel.js defines
  // (kernel/highlight.ts). JupyterLab and Notebook 7 load no kernel.js: they find no mode by
  // that name in their own registry and fall back to the mime, the shell mode, which still
  // colours comments, strings and numbers. pygments (nbconvert's HTML) has no exitlab lexer.
  codemirror_mode: { name: "exitlab", mime: "text/x-sh" },
  pygments_lexer: "bash",
} satisfies LanguageInfo;

/** The language info, banner and help links of kernel_info_reply (Jupyter messaging spec 5.3). */
export interface KernelInfo {
  languageInfo: LanguageInfo;
  banner: string;
  helpLinks: { text: string; url: string }[];
}

export const KERNEL_INFO: KernelInfo = {
  languageInfo: LANGUAGE_INFO,
  banner: "exitlab: KVM exits on modelled ARMv8 EL2 and Intel VMX",
  helpLinks: [{ text: "exitlab language reference", url: "https://github.com/exitlab/exitlab#language" }],
};
