"""Running student code: the sandbox, the kernel template, nbgrader's execute step with the
kernel in the sandbox, and the in-kernel harness of the hidden tests."""
