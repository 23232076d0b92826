"""jupyter_kernel_test's KernelTests against the installed exitlab kernelspec (JUPYTER_PATH)."""
import os, unittest
import jupyter_kernel_test


class ExitlabKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = os.environ.get("EXITLAB_KERNEL_NAME", "exitlab")
    language_name = "exitlab"
    file_extension = ".exl"

    code_hello_world = 'print "hello, world"'  # print writes a stdout stream
    code_stderr = ""
    completion_samples = [{"text": "vm bo", "matches": {"boot"}}]
    complete_code_samples = ["vm boot x86_64", "run", "vm boot x86_64 asm {\n  hlt\n}"]
    incomplete_code_samples = ["vm boot x86_64 asm {\n  hlt"]
    invalid_code_samples = ["vm bot x86_64"]
    code_inspect_sample = "trap"
    code_history_pattern = "1?2*"
    supported_history_operations = ("tail", "range", "search")
    code_display_data = [
        {"code": "vm boot x86_64\nrun\ntable exits by reason", "mime": "text/html"},
        {"code": "vm boot x86_64\nrun\nchart exits by reason", "mime": "application/vnd.vegalite.v5+json"},
    ]
    code_execute_result = [{"code": "1+2", "result": "3"}]  # a bare expression is the cell's value
    code_generate_error = "vm bot x86_64"


if __name__ == "__main__":
    unittest.main()
