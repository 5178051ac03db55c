"""The maker trial (issue 19): the cycle maker under faults, with its invariants."""
