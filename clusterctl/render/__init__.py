"""Pure renderers: inventory in, file content out. No I/O, no hosts."""
