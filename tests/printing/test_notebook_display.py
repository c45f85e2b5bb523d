"""Every public object displays in Jupyter through what MathJax and KaTeX typeset.

Every answer's display (its ``_repr_markdown_``, beside its plain ``repr``) is read in this
process, one test per answer, so an answer computed by another test here is not computed
again. A notebook of what needs a real kernel (this interpreter's) is executed once and each
output read back: the README's REPL examples (the kernel's SymPy printer gives the bar
notation), every registered model, one answer of each form of body, a check, a report of
verdicts and two verdicts."""

from __future__ import annotations

import contextlib
import json
import re
import sys

import pytest

import derive
from derive.answers import registered_problems
from derive.models import model_names

KERNEL = "derive-test-python"
RICH = ("text/latex", "text/markdown", "text/html")
CELL_TIMEOUT = 600  # seconds for one cell; the slowest answer takes about 4 s
# one answer of each form of body in the kernel (every answer is read in this process too):
# code spans, a list, display math with a figure, prose alone
KERNEL_ANSWERS = ("cmsc25500-midterm/1a", "cmsc25500-midterm/6e", "csc421-hw4/2b",
                  "dsga1008-hw2/1.2.2b")
MIMES = {"text/latex": "_repr_latex_", "text/markdown": "_repr_markdown_",
         "text/html": "_repr_html_"}
REPR_LIMIT = 300  # characters of a plain-text repr of a derive object

# what MathJax (and KaTeX) cannot typeset: text-mode environments and commands
UNSUPPORTED = re.compile(
    r"\\begin\{(center|tabular\*?|itemize|enumerate|description|verbatim|flushleft|minipage|"
    r"table|figure)\}|\\(textbf|emph|noindent|paragraph|section|subsection|small|footnotesize|"
    r"newline|par|item|toprule|midrule|bottomrule)(?![A-Za-z])")
MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$(?!\$)(.+?)(?<!\\)\$", re.S)

CLAIMS = '''title = "notebook claims"

[["csc421-hw4/1b"]]
label = "the sum for w_ix"
result = "bar_w_ix"
formula = "sum(bar_i(t) * i(t) * (1 - i(t)) * x(t), (t, 1, T))"

[["cmsc25500-midterm/1c"]]
label = "filters of the replacing convolutions, one wrong"
result = "replacements[*].filters"
numbers = [24, 48, 64, 96, 12]
'''


def cells() -> list[tuple[str, str]]:
    """(what the output must be, source): ``rich`` a rich display, ``bars`` the bar notation,
    ``none`` no output."""
    out = [
        ("rich", 'import derive\nm = derive.model("lstm")\nm'),
        ("bars", 'm.adjoints["c"]'),
        ("bars", 'm.weight_grads["w_ix"]'),
        ("bars", 'derive.model("gated_rnn").jacobian("h")'),
        ("bars", 'derive.answer("csc421-hw4/1b").results["bar_w_ix"]'),
        ("none", 'inst = m.random_instance(0, 3)\n'
                 'result = m.bptt(inst["params"], inst["inputs"], inst["upstream"], '
                 'inst["initial"])'),
    ]
    out += [("rich", f"derive.model({name!r})") for name in model_names()]
    out += [("rich", f"derive.answer({pid!r})") for pid in KERNEL_ANSWERS]
    out += [
        ("rich", 'derive.answer("csc421-hw4/1b").checks[0]'),
        ("none", "from pathlib import Path\nfrom derive.grade import grade\n"
                 f"Path('claims.toml').write_text({CLAIMS!r})\nreport = grade('claims.toml')"),
        ("rich", "report"),
        ("rich", "report.verdicts[0]"),
        ("rich", "report.verdicts[1]"),
    ]
    return out


def kernel_manager(tmp):
    """A kernel on this very interpreter (the venv's), whatever kernels the machine has."""
    kernelspec = pytest.importorskip("jupyter_client.kernelspec")
    manager = pytest.importorskip("jupyter_client.manager")
    spec = tmp / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "derive tests", "language": "python",
        "env": {"IPYTHONDIR": str(tmp / "ipython")},  # no history in the user's home
    }))
    specs = kernelspec.KernelSpecManager(kernel_dirs=[str(tmp / "kernels")])
    return manager.AsyncKernelManager(kernel_name=KERNEL, kernel_spec_manager=specs,
                              connection_file=str(tmp / "connection.json"))


def execute(tmp, sources: list[str]):
    nbformat = pytest.importorskip("nbformat", reason="the notebook test needs nbformat (.[test])")
    nbclient = pytest.importorskip("nbclient", reason="the notebook test needs nbclient (.[test])")
    pytest.importorskip("ipykernel", reason="the notebook test needs ipykernel (.[test])")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    client = nbclient.NotebookClient(nb, km=kernel_manager(tmp), timeout=CELL_TIMEOUT,
                                     startup_timeout=120, allow_errors=True)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(client.setup_kernel(cleanup_kc=True, cwd=str(tmp)))
        except Exception as exc:  # noqa: BLE001 - any failure to start is "no kernel here"
            pytest.skip(f"a Jupyter kernel could not start on this machine "
                        f"({type(exc).__name__}: {exc})")
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
    return nb


def latex_problems(latex: str) -> list[str]:
    """What MathJax could not typeset in a ``text/latex`` output: text outside math, or an
    unsupported command inside it."""
    found = []
    outside = MATH.sub("", latex)
    if outside.strip():
        found.append(f"text outside $...$: {outside.strip()[:80]!r}")
    for m in MATH.finditer(latex):
        bad = UNSUPPORTED.search(m.group(1) or m.group(2))
        if bad:
            found.append(f"{bad.group(0)} inside math")
    return found


def markdown_problems(markdown: str) -> list[str]:
    """What a notebook would show raw in a ``text/markdown``/``text/html`` output: a LaTeX
    command outside ``$...$`` (code and ``<pre>`` aside), an unsupported one inside."""
    found = []
    rest = re.sub(r"<pre>.*?</pre>", "", markdown, flags=re.S)
    rest = re.sub(r"(`+)[^`].*?\1", "", rest, flags=re.S)
    for m in MATH.finditer(rest):
        bad = UNSUPPORTED.search(m.group(1) or m.group(2))
        if bad:
            found.append(f"{bad.group(0)} inside math")
    outside = MATH.sub("", rest)
    for m in re.finditer(r"\\[A-Za-z]+|\\[\[\]()]", outside):
        found.append(f"{m.group(0)} outside math: "
                     f"{outside[max(0, m.start() - 40):m.end() + 20]!r}")
    if len(re.findall(r"(?<!\\)\$", outside)):
        found.append("an unmatched $")
    return found


def display_problems(kind: str, where: str, data: dict) -> list[str]:
    """What is wrong with one displayed output (its MIME bundle): none rich, text MathJax
    cannot typeset, a long plain repr, or SymPy's names where the bar notation belongs."""
    rich = [mime for mime in RICH if mime in data]
    if not rich:
        return [f"{where}: no rich display, only {sorted(data)}"]
    failures = []
    if "text/latex" in data:
        failures += [f"{where}: {p}" for p in latex_problems(data["text/latex"])]
    for mime in ("text/markdown", "text/html"):
        if mime in data:
            failures += [f"{where}: {p}" for p in markdown_problems(data[mime])]
    plain = data.get("text/plain", "")
    if kind == "rich" and len(plain) > REPR_LIMIT:
        failures.append(f"{where}: a repr of {len(plain)} characters: {plain[:60]!r}...")
    if kind == "bars":  # time as a superscript, bars as overlines: not SymPy's names
        latex = data.get("text/latex", "")
        if "^{(t" not in latex or r"\operatorname{bar}" in latex or "bar_" in latex:
            failures.append(f"{where}: not in the bar notation: {latex[:120]!r}")
    return failures


def bundle(obj) -> dict[str, str]:
    """The MIME bundle Jupyter builds for ``obj`` from its ``_repr_*_`` methods."""
    data = {"text/plain": repr(obj)}
    for mime, method in MIMES.items():
        shown = getattr(obj, method, lambda: None)()
        if shown is not None:
            data[mime] = shown
    return data


@pytest.mark.parametrize("pid", registered_problems())
def test_every_answer_displays_as_markdown_mathjax_typesets(pid):
    data = bundle(derive.answer(pid))
    assert "text/markdown" in data
    assert not display_problems("rich", pid, data)


def test_a_planted_display_fault_is_caught():
    assert display_problems("rich", "x", {"text/plain": "x"})  # nothing rich
    assert display_problems("rich", "x", {"text/markdown": r"a \textbf{b} $x$"})
    assert display_problems("rich", "x", {"text/latex": r"$\begin{tabular}{c}x\end{tabular}$"})
    assert display_problems("rich", "x", {"text/markdown": "ok", "text/plain": "x" * 301})
    assert display_problems("bars", "x", {"text/latex": r"$\operatorname{bar}_{c}$"})
    assert not display_problems("rich", "x", {"text/markdown": r"**a** $\frac{1}{2}$"})


def test_notebook_of_readme_examples_models_answers_and_grades_displays_richly(tmp_path):
    plan = cells()
    nb = execute(tmp_path, [src for _, src in plan])
    answers_shown = {f"derive.answer({pid!r})": pid for pid in KERNEL_ANSWERS}
    failures = []
    for (kind, src), cell in zip(plan, nb.cells, strict=True):
        where = src.splitlines()[-1]
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if errors:
            failures.append(f"{where}: {errors[0].ename}: {errors[0].evalue}")
            continue
        shown = [o for o in cell.outputs if o.output_type in ("execute_result", "display_data")]
        if kind == "none":
            continue
        if len(shown) != 1:
            failures.append(f"{where}: {len(shown)} outputs")
            continue
        failures += display_problems(kind, where, shown[0].data)
        pid = answers_shown.get(src)
        if pid is not None:  # the kernel shows what this process reads
            if shown[0].data.get("text/markdown") != bundle(derive.answer(pid))["text/markdown"]:
                failures.append(f"{where}: the kernel's display differs from _repr_markdown_")
    assert not failures, "\n".join(failures)
    by_source = {src: cell for (_, src), cell in zip(plan, nb.cells, strict=True)}
    adjoint = by_source['m.adjoints["c"]'].outputs[0].data["text/latex"]
    assert r"\overline{c^{(t)}} = \overline{h^{(t)}}" in adjoint
    weight = by_source['m.weight_grads["w_ix"]'].outputs[0].data["text/latex"]
    assert r"\overline{w_{ix}} = \sum_{t=1}^{T} \overline{i^{(t)}}" in weight
    model = by_source['import derive\nm = derive.model("lstm")\nm'].outputs[0].data
    assert model["text/plain"] == "<RecurrentModel lstm: 6 signals, 8 weights>"
