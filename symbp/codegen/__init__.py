"""From the derivation to code: SymPy code printers, the NumPy module, the fused C backend.

May import: symbp.symbolic, symbp.spec, symbp.support. The generated source depends on NumPy only.
"""
