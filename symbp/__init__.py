"""symbp: backpropagation through a small CNN, derived symbolically and element by element.

from symbp import NetworkSpec, derive, load
derivation = derive(NetworkSpec(input_shape=(6, 6)))
module = load(derivation)          # the generated NumPy gradient functions
"""

__version__ = "0.1.0"

from .codegen import generate_source, load  # noqa: E402
from .derivation import Derivation, derive  # noqa: E402
from .spec import NetworkSpec, SpecError  # noqa: E402

__all__ = [
    "Derivation",
    "NetworkSpec",
    "SpecError",
    "__version__",
    "derive",
    "generate_source",
    "load",
]
