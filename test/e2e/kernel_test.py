"""jupyter_kernel_test's KernelTests against the installed exitlab kernelspec (JUPYTER_PATH)."""
import os, unittest
import jupyter_kernel_test


class ExitlabKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = os.environ.get("EXITLAB_KERNEL_NAME", "exitlab")
    language_name = "exitlab"
    file_extension = ".exl"

    code_hello_world = 'let greeting = "hello, world"\nlet n = 1'  # the first text goes to stdout
    code_stderr = ""
    completion_samples = [{"text": "vm bo", "matches": {"boot"}}]
    complete_code_samples = ["vm boot x86_64", "run", "vm boot x86_64 asm {\n  hlt\n}"]
    incomplete_code_samples = ["vm boot x86_64 asm {\n  hlt"]
    invalid_code_samples = ["vm bot x86_64"]
    code_inspect_sample = "trap"
    code_history_pattern = "let n = 1*"
    supported_history_operations = ("tail", "range", "search")
    code_display_data = [
        {"code": "vm boot x86_64\nrun\ntable exits by reason", "mime": "text/html"},
        {"code": "vm boot x86_64\nrun\nchart exits by reason", "mime": "application/vnd.vegalite.v5+json"},
    ]
    code_execute_result = [{"code": "let n = 1 + 2", "result": "n = 3"}, {"code": "let m = 0x10 * 2", "result": "m = 32"}]
    code_generate_error = "vm bot x86_64"


if __name__ == "__main__":
    unittest.main()
