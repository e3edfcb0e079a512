"""The web pages the HTML and browser tests read, built once per process, and the
index sets every gradient element must light up, computed by hand-written loops."""

from __future__ import annotations

from functools import cache
from itertools import product

from symbp.document.build import render_markdown
from symbp.document.html import render_html
from symbp.pipeline import check_spec
from symbp.spec.model import NetworkSpec, spec_from_strings

# padding, stride and two channels and filters in play
GENERAL = {"input_size": "7x7", "channels": "2", "padding": "1", "stride": "2", "filters": "2"}


def spec_for(name: str) -> NetworkSpec:
    return NetworkSpec() if name == "default" else spec_from_strings(**GENERAL)


@cache
def page(name: str) -> str:
    """The page for the default network or the general spec."""
    checked = check_spec(spec_for(name))
    markdown = render_markdown(checked.derivation, checked.proofs)
    return render_html(checked.derivation, markdown, "Backpropagation")


def expected_cells(spec: NetworkSpec) -> dict[str, set[str]]:
    """Gradient element key -> the keys of the cells its sum multiplies, from the definitions:
    δW[k,c,p,q] = Σ_ij X[c, iS+p-P, jS+q-P] δZ[k,i,j] (inside the image), and
    δX[c,r,s] = Σ δZ[k,i,j] W[k,c,p,q] over iS+p = r+P, jS+q = s+P."""
    g = spec.geometry[0]
    channels, h, w = g.input
    filters, oh, ow = g.conv
    (kh, kw), step, pad = g.block.filter_shape, g.block.stride, g.block.padding
    cells: dict[str, set[str]] = {}
    for k, c, p, q in product(range(filters), range(channels), range(kh), range(kw)):
        meets = set()
        for i, j in product(range(oh), range(ow)):
            r, s = i * step + p - pad, j * step + q - pad
            if 0 <= r < h and 0 <= s < w:
                meets |= {f"X:{c},{r},{s}", f"dZ1:{k},{i},{j}"}
        cells[f"dW1:{k},{c},{p},{q}"] = meets
    for c, r, s in product(range(channels), range(h), range(w)):
        meets = set()
        for k, i, j, p, q in product(range(filters), range(oh), range(ow), range(kh), range(kw)):
            if i * step + p == r + pad and j * step + q == s + pad:
                meets |= {f"dZ1:{k},{i},{j}", f"W1:{k},{c},{p},{q}"}
        cells[f"dX:{c},{r},{s}"] = meets
    return cells
