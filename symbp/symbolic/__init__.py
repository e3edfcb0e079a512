"""The element-wise derivation: symbols, the table of layer rules, the chain rule.

May import: symbp.spec, symbp.support. `derive(spec)` returns the `Derivation`, plain data that
every consumer above (proofs, codegen, document) reads.
"""
