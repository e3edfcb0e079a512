"""GitHub's safe math delimiters for the rendered Markdown document.

GitHub runs its Markdown parser over `$…$` before MathJax sees it: `\\,` loses its backslash,
two `_{…}` in one span can turn into emphasis, `\\{` into `{`. Its documented alternatives are
immune, because their content is code to the parser: inline math as $`…`$ and display math as
a fenced `math` block ("Writing mathematical expressions", docs.github.com). The templates
keep writing the plain `$…$` every LaTeX reader knows (Jupyter, which the notebook views serve,
does not understand $`…`$); `github_math` rewrites a rendered document in one pass that skips
fenced blocks and code spans and keeps escaped `\\$` (a lone backtick, which would pair with
the tick of a $`…`$, is escaped). A `$` it cannot pair is a template bug, so it is a ValueError
naming the line rather than a document that renders wrongly.
"""

from __future__ import annotations

import re

__all__ = ["github_math"]

_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")
_PIPES = re.compile(r"\\.|\|")


def github_math(markdown: str) -> str:
    """The document with every inline `$…$` as $`…`$ and every `$$` display as a ```math fence;
    fenced blocks, code spans, escaped dollars and spans already in $`…`$ form are kept."""
    lines = markdown.split("\n")
    out: list[str] = []
    paragraph: list[str] = []
    start = 0  # the first line (1-based) of `paragraph`, for errors

    def flush() -> None:
        if paragraph:
            out.append(_inline(paragraph, start))
            paragraph.clear()

    k = 0
    while k < len(lines):
        line = lines[k]
        fence = _FENCE.match(line)
        stripped = line.strip()
        if fence and not (fence[2][0] == "`" and "`" in fence[3]):
            flush()
            end = _fence_end(lines, k, fence[2])
            out.extend(lines[k : end + 1])
            k = end + 1
        elif stripped.startswith("$$"):
            flush()
            k = _display(lines, k, out)
        elif not stripped or stripped.startswith(("#", "|")):
            flush()  # a heading or a table row is one line: no span may cross it
            out.append(_inline([line], k + 1) if stripped else line)
            k += 1
        else:
            if not paragraph:
                start = k + 1
            paragraph.append(line)
            k += 1
    flush()
    return "\n".join(out)


def _fence_end(lines: list[str], k: int, fence: str) -> int:
    """The index of the line that closes the fence opened at line k (the last line if none)."""
    closing = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
    for j in range(k + 1, len(lines)):
        if closing.match(lines[j]):
            return j
    return len(lines) - 1


def _display(lines: list[str], k: int, out: list[str]) -> int:
    """A `$$` display from line k as a ```math fence; the index of the line after it."""
    line = lines[k]
    indent = line[: len(line) - len(line.lstrip())]
    body = line.strip()[2:]
    if body.endswith("$$"):  # $$…$$ on one line
        out.extend([f"{indent}```math", f"{indent}{body[:-2].strip()}", f"{indent}```"])
        return k + 1
    content = [f"{indent}{body.strip()}"] if body.strip() else []
    for j in range(k + 1, len(lines)):
        if lines[j].rstrip().endswith("$$"):
            last = lines[j].rstrip()[:-2]
            out.extend([f"{indent}```math", *content, *([last] if last.strip() else [])])
            out.append(f"{indent}```")
            return j + 1
        content.append(lines[j])
    raise ValueError(f"Markdown line {k + 1}: a $$ display that is never closed")


def _inline(lines: list[str], first: int) -> str:
    """One paragraph (or one heading or table row) with its inline math in $`…`$ form."""
    text = "\n".join(lines)
    table = lines[0].lstrip().startswith("|")
    out: list[str] = []
    i, n = 0, len(text)

    def where(at: int) -> str:
        return f"Markdown line {first + text.count(chr(10), 0, at)}"

    while i < n:
        c = text[i]
        if c == "\\":
            out.append(text[i : i + 2])  # an escaped character, `\$` among them, stays literal
            i += 2
        elif c == "`":
            end = _code_span_end(text, i)
            # a run no run closes is literal, but it would pair with a $`…`$ tick: escape it
            out.append("\\`" * (end - i) if end == _run_end(text, i) else text[i:end])
            i = end
        elif c == "$" and text.startswith("$`", i):
            end = _code_span_end(text, i + 1)
            if not text.startswith("$", end) or end == _run_end(text, i + 1):
                raise ValueError(f"{where(i)}: a $` math span that is not closed by `$")
            out.append(text[i : end + 1])
            i = end + 1
        elif c == "$":
            if text.startswith("$$", i):
                raise ValueError(f"{where(i)}: $$ display math inside a line of text")
            end = _math_end(text, i + 1)
            if end < 0:
                raise ValueError(f"{where(i)}: a $ that opens math but is never closed")
            body = text[i + 1 : end].replace("\n", " ")
            if not body.strip() or "`" in body:
                raise ValueError(f"{where(i)}: inline math ${body}$ cannot be written as $`…`$")
            if table:  # a pipe splits a table's cells even inside a code span
                body = _PIPES.sub(_pipe, body)
            out.append(f"$`{body}`$")
            i = end + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _run_end(text: str, i: int) -> int:
    """The index just past the run of backticks that starts at i."""
    j = i
    while j < len(text) and text[j] == "`":
        j += 1
    return j


def _code_span_end(text: str, i: int) -> int:
    """The index just past the code span opened by the backticks at i (CommonMark: closed by a
    run of the same length); just past the opening run when none closes it (literal ticks)."""
    opening = _run_end(text, i)
    size = opening - i
    j = opening
    while True:
        j = text.find("`", j)
        if j < 0:
            return opening
        end = _run_end(text, j)
        if end - j == size:
            return end
        j = end


def _math_end(text: str, i: int) -> int:
    """The index of the `$` that closes the math opened before i (backslash pairs skipped), or
    -1; a blank line ends the paragraph, so it is never crossed."""
    j = i
    while j < len(text):
        if text[j] == "\\":
            j += 2
        elif text[j] == "$":
            return j
        else:
            j += 1
    return -1


def _pipe(match: re.Match[str]) -> str:
    r"""`|` as `\vert`, `\|` as `\Vert`; other backslash pairs unchanged."""
    token = match.group()
    return {"|": r"\vert ", "\\|": r"\Vert "}.get(token, token)
