"""The docs a user reads stay true: every link leads somewhere inside the repository, docs/reference.md names
every setting, command, option, chat word and button the code has (and nothing the code doesn't), and the
README's console examples are what a run prints, ids and times aside."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from bot.cli import parser
from bot.slack import render as slack_render
from config.settings import Settings
from connectors.registry import plugins
from orchestrator import events
from orchestrator.buttons import BUTTONS
from orchestrator.words import BY_NAME, WORDS, help_text, menu
from tests.conftest import ROOT, Workers, deputy

DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
REFERENCE = (ROOT / "docs" / "reference.md").read_text()
LINK = re.compile(r"\]\(([^)\s]+)\)")
SKIP = {".git", ".venv", ".tools", ".deputy", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
TEXT = {".md", ".py", ".yaml", ".yml", ".toml", ".txt", ".cfg", ".ini", ".json"}


def repository_text_files() -> list[Path]:
    found = [p for p in ROOT.rglob("*") if p.is_file() and not SKIP & set(p.relative_to(ROOT).parts)]
    return [p for p in found if p.suffix in TEXT or p.name in ("Makefile", "Dockerfile", "docker-compose.yml")]


def test_nothing_in_the_repository_points_outside_it() -> None:
    outside = ("../" + "shared", "/" + "work/")  # spelled in two parts so this file doesn't match itself
    for path in repository_text_files():
        text = path.read_text(errors="replace")
        assert not [o for o in outside if o in text], f"{path.relative_to(ROOT)} points outside the repository"


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in path.read_text().splitlines() if line.startswith("#")}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_link_leads_to_a_file_and_heading_in_the_repository(doc: Path) -> None:
    for target in LINK.findall(doc.read_text()):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        file, _, anchor = target.partition("#")
        path = (doc.parent / file).resolve() if file else doc
        assert path.is_relative_to(ROOT) and path.exists(), f"{doc.name} links to {target}, which isn't in the repo"
        if anchor and path.suffix == ".md":
            assert anchor in anchors(path), f"{doc.name} links to {target}: {path.name} has no such heading"


def setting_names() -> set[str]:
    """`Settings`' variables and those a connector reads itself (its `Values` a pydantic-settings model)."""
    models: list[type[BaseSettings]] = [Settings, *(p.values for p in plugins() if issubclass(p.values, BaseSettings))]
    return {str(f.validation_alias) for model in models for f in model.model_fields.values()}


def test_the_reference_names_every_setting() -> None:
    missing = [name for name in setting_names() if f"`{name}`" not in REFERENCE]
    assert not missing, f"docs/reference.md lacks {missing}"


TEST_ONLY = frozenset({"DEPUTY_TEST_MODEL_URL", "DEPUTY_TEST_MODEL"})
"""Read by `make test-model` (tests/model_flows.py), not by Deputy."""


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_the_docs_name_no_setting_deputy_does_not_read(doc: Path) -> None:
    named = set(re.findall(r"\b(DEPUTY_[A-Z_]+[A-Z])\b", doc.read_text())) - TEST_ONLY
    assert named <= setting_names(), f"{doc.name} names {named - setting_names()}, which Deputy doesn't read"


def test_the_reference_lists_every_event_type_the_ledger_writes() -> None:
    """orchestrator/events.py declares each one; the reference's list must hold them all."""
    listed = next(line for line in REFERENCE.split("\n- ") if line.startswith("Ledger event types:"))
    declared = [n for n, v in vars(events).items() if isinstance(v, type) and issubclass(v, events.Event)]
    missing = [name for name in declared if name != "Event" and f"`{name}`" not in listed]
    assert not missing, f"docs/reference.md's ledger event types lack {missing}"


def test_the_reference_names_every_command_and_option() -> None:
    commands = next(a for a in parser()._actions if a.dest == "command").choices
    assert isinstance(commands, dict)
    for name, sub in commands.items():
        assert f"`deputy {name}" in REFERENCE, f"docs/reference.md lacks deputy {name}"
        for option in (o for action in sub._actions for o in action.option_strings if o.startswith("--")):
            if option != "--help":
                row = next(line for line in REFERENCE.splitlines() if line.startswith(f"| `deputy {name}"))
                assert option in row, f"docs/reference.md's row for deputy {name} lacks {option}"


def test_the_reference_names_every_chat_word() -> None:
    missing = [word.name for word in WORDS if f"`/{word.name}" not in REFERENCE]
    assert not missing, f"docs/reference.md lacks {missing}"


def slack_action_ids() -> set[str]:
    ids = {v for v in vars(slack_render).values() if isinstance(v, str) and v.startswith("deputy_")}
    ids |= {button.action_id for button in BUTTONS}
    return ids | set(re.findall(r'"callback_id": "(deputy_\w+)"', Path(slack_render.__file__).read_text()))


def telegram_callback_codes() -> set[str]:
    return {button.code for button in BUTTONS if button.code}


@pytest.mark.parametrize("doc", ["reference.md", "slack.md"])
def test_every_slack_action_id_is_documented(doc: str) -> None:
    text = (ROOT / "docs" / doc).read_text()
    missing = sorted(i for i in slack_action_ids() if f"`{i}`" not in text)
    assert not missing, f"docs/{doc} lacks {missing}"


@pytest.mark.parametrize("doc", ["reference.md", "telegram.md"])
def test_every_telegram_callback_data_is_documented(doc: str) -> None:
    text = (ROOT / "docs" / doc).read_text()
    missing = sorted(code for code in telegram_callback_codes() if f"`{code}:" not in text)
    assert not missing, f"docs/{doc} lacks {missing}"


def test_telegram_docs_list_the_command_menu_and_every_typed_word() -> None:
    text = (ROOT / "docs" / "telegram.md").read_text()
    missing = [name for name, _ in menu() if f"`/{name}" not in text]
    assert not missing, f"docs/telegram.md lacks {missing}"


def readme_block(first_line: str, also: str = "") -> list[str]:
    """The lines of the README's console example from `first_line` on (the first example that has `also` too)."""
    blocks = (ROOT / "README.md").read_text().split("```")
    block = next(b for b in blocks if first_line in b and also in b)
    lines = block.splitlines()
    return lines[lines.index(first_line) :]


def normalised(lines: list[str]) -> list[str]:
    """Ids and clock times vary from run to run; nothing else may."""
    ids = re.compile(r"\b[tp][a-z0-9]{7}\b")
    return [re.sub(r"\b\d\d:\d\d\b", "HH:MM", ids.sub("<id>", line)) for line in lines]


def console_run(script: str, env: dict[str, str], cwd: Path) -> list[str]:
    result = deputy("chat", env=env, cwd=cwd, stdin=script)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def card_and_after(lines: list[str], request: str, last: str) -> list[str]:
    """From the request's card to the line starting with `last`: the part that looks the same at a terminal and
    in a pipe (at a terminal "On it…" is replaced by "Drafting…" in place; in a pipe both stay)."""
    typed = normalised([f"deputy> {request}"])
    start = next(i for i, line in enumerate(lines) if normalised([line]) == typed)
    card = next(i for i in range(start, len(lines)) if lines[i].startswith("┌ Proposal"))
    end = next(i for i in range(card, len(lines)) if lines[i].startswith(last))
    return lines[card : end + 1]


def test_the_readme_quick_start_is_what_a_run_prints(env: dict[str, str], tmp_path: Path, workers: Workers) -> None:
    workers.start()
    shown = card_and_after(readme_block("deputy> plan the launch"), "plan the launch", "✓ Done")
    printed = card_and_after(console_run("plan the launch\n", env, tmp_path), "plan the launch", "✓ Done")
    assert normalised(printed) == normalised(shown)


def test_the_readme_email_without_smtp_is_what_a_run_prints(
    env: dict[str, str], tmp_path: Path, workers: Workers
) -> None:
    unset = {k: v for k, v in env.items() if k not in ("DEPUTY_SMTP_URL", "DEPUTY_EMAIL_FROM")}
    workers.env = unset
    workers.start()
    request = "email jane@acme.com a follow-up on invoice 42"
    first = console_run(f"{request}\n", unset, tmp_path)
    proposal = next(word for word in first if word.startswith("┌ Proposal")).split()[2]
    then = console_run(f"/approve {proposal}\n", unset, tmp_path)
    shown = card_and_after(readme_block(f"deputy> {request}"), request, "✗ Can't approve")
    printed = card_and_after([*first, *then], request, "✗ Can't approve")
    assert normalised(printed) == normalised(shown)


def test_the_readme_signed_email_and_its_edit_are_what_a_run_prints(
    env: dict[str, str], tmp_path: Path, workers: Workers
) -> None:
    sam = {**env, "DEPUTY_EMAIL_FROM": "Sam <sam@example.com>"}
    workers.env = sam
    workers.start()
    request = "email jane@acme.com a follow-up on invoice 42"
    first = console_run(f"{request}\n", sam, tmp_path)
    proposal = next(word for word in first if word.startswith("┌ Proposal")).split()[2]
    edit = f"/edit {proposal} subject Invoice 42: friendly reminder"
    then = console_run(f"{edit}\n", sam, tmp_path)
    example = readme_block(f"deputy> {request}", "/edit")
    shown = card_and_after(example, request, "└ /approve") + card_and_after(example, edit, "└ /approve")
    printed = card_and_after(first, request, "└ /approve") + card_and_after(then, edit, "└ /approve")
    assert normalised(printed) == normalised(shown)


def section(path: Path, heading: str) -> str:
    text = path.read_text()
    start = text.index(f"\n{heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def word_forms(text: str) -> dict[str, set[str]]:
    """Every `/word …` form a table's first column gives, by word."""
    forms: dict[str, set[str]] = {}
    for row in text.splitlines():
        if row.startswith("| "):
            first = row.split(" | ")[0]
            for form in re.findall(r"`(/[a-z]+[^`]*)`", first):
                form = form.replace("\\|", "|")
                forms.setdefault(form.split()[0][1:], set()).add(form)
    return forms


@pytest.mark.parametrize(
    ("doc", "heading"), [("docs/reference.md", "## Chat words"), ("README.md", "## What you can say")]
)
def test_the_reference_the_readme_and_help_give_every_word_the_same_form(doc: str, heading: str) -> None:
    """`/help` is made from the words' table; each guide's table gives each word in exactly that form."""
    forms = word_forms(section(ROOT / doc, heading))
    forms.pop("start", None)  # Telegram's own, named beside /help
    helped = {w.name for w in WORDS if w.menu}
    assert set(forms) == helped, f"{doc}: words not in /help {set(forms) - helped}, missing {helped - set(forms)}"
    wrong = {w.name: forms[w.name] for w in WORDS if w.menu and forms[w.name] != {w.usage}}
    assert not wrong, f"{doc} writes {wrong}; /help says {[BY_NAME[n].usage for n in wrong]}"
    assert all(w.usage in help_text() for w in WORDS if w.menu)
