"""Pure domain types and maths: no I/O, no clock reads."""
