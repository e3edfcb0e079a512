"""Independent references the compiled gradients are checked against.

A numeric engine, finite differences, the PyTorch oracle, the worked example's numbers and the
verifier. May import: symbp.spec, symbp.support. Never SymPy: a reference must not share the
code it checks.
"""
