"""The chapter: LaTeX printer and notation, layout, figures, sections, templates, PDF.

May import: symbp.laws, symbp.proofs, symbp.symbolic, symbp.reference, symbp.spec,
symbp.support.
"""

# The title of every document unless one is given: the CLI's --title default too (this module
# imports nothing, so the command line reads it without loading the document layer).
DEFAULT_TITLE = "Backpropagation in a Convolutional Neural Network"
