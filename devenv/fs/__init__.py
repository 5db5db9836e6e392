"""Safe file IO under everything else: where devenv may write and delete (safety), writing a
file atomically (atomic), the generated-file header and its digest (header), and what a
generated file is (model). Knows no plan, no renderer, no runner."""
