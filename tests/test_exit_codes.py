"""The README's table of exit statuses is what the command line does: every status npcae can
end with (an error class's exit_status, a number cli.py returns, a command's own result) has a
row, and every row is a status the code can give. Each status is produced and checked end to
end elsewhere: 1 test_multiclass_cli (inspect) and test_gradcheck_cli, 2 everywhere, 3 and 4
test_faults, 130 test_faults (a double Ctrl-C), 141 and 143 test_faults."""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_statuses():
    text = (ROOT / "README.md").read_text()
    table = text[text.index("| status | what happened | what to do |"):].split("\n\n")[0]
    return {int(m) for m in re.findall(r"^\| (\d+) \|", table, re.M)}


def code_statuses():
    """exit_status of every error class in npcae, and the integers cli.py's functions return
    (0, success, left out); gradcheck's runner returns 0 or 1."""
    found = set()
    for path in (ROOT / "npcae").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "exit_status"
                                                     for t in node.targets)):
                found.add(node.value.value)
    cli = ast.parse((ROOT / "npcae" / "cli.py").read_text())
    for node in ast.walk(cli):
        if isinstance(node, ast.Return) and node.value is not None:
            found |= {c.value for c in ast.walk(node.value)
                      if isinstance(c, ast.Constant) and type(c.value) is int}
    suite = ast.parse((ROOT / "npcae" / "gradcheck" / "suite.py").read_text())
    run = next(f for f in ast.walk(suite) if isinstance(f, ast.FunctionDef) and f.name == "run")
    found |= {c.value for r in ast.walk(run) if isinstance(r, ast.Return)
              for c in ast.walk(r) if isinstance(c, ast.Constant) and type(c.value) is int}
    return found - {0}


def test_the_readme_table_lists_every_exit_status_and_no_other():
    documented, given = readme_statuses(), code_statuses()
    assert documented, "no table of exit statuses found in README.md"
    assert given == documented, (f"in the code, not the README: {sorted(given - documented)}; "
                                 f"in the README, not the code: {sorted(documented - given)}")
