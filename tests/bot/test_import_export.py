"""`deputy import` and `deputy export` on a real Redis: what a file would change, line by line; `--apply` does it;
the same file again changes nothing; malformed rows are reported with their line and nothing of them is applied;
a forgotten client stays forgotten; the export reads back; and 10,000 rows with duplicates and bad rows go in
once and change nothing the second time."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

from bot.imports import apply, plan
from bot.record_files import read
from bot.wiring import Runtime
from memory.clients import RedisRecordBook
from orchestrator.records import Entity, Schema, Source
from tests.conftest import deputy

CSV = """Name,Email,Company,Phone,Status,Terms,Tags
Acme Corp,jane@acme.com;bob@acme.com,Acme,+48 123,active,net 30,vip
Northwind,piotr@northwind.example,,,,net 45,
Acme Corp,,,,,,priority
Bad Row,not-an-email,,,,,
,nobody@x.com,,,,,
Too,many,values,a,b,c,d,e,f
"""
VCF = """BEGIN:VCARD
VERSION:3.0
FN:Ola Nowak
ORG:Widgets;Sales
EMAIL;TYPE=work:ola@widgets.example
NOTE:met at the fair\\, likes tea
END:VCARD
BEGIN:VCARD
EMAIL:noname@x.example
END:VCARD
"""


def test_import_says_what_it_would_do_then_does_it_once(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "clients.csv"
    path.write_text(CSV)
    dry = deputy("import", str(path), env=env, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert lines[0] == "line 2: create client Acme Corp"
    assert lines[2] == "line 4: update client Acme Corp: tags vip → vip, priority"
    assert lines[3] == "line 5: malformed: 'not-an-email' is not an email address."
    assert lines[4] == "line 6: malformed: no name"
    assert lines[5] == "line 7: malformed: 9 values for 7 columns"
    assert lines[-1].startswith("Would do: 2 to create, 1 to update, 0 unchanged, 0 skipped, 3 malformed.")
    assert json.loads(deputy("export", "--json", env=env, cwd=tmp_path).stdout) == []
    done = deputy("import", str(path), "--apply", env=env, cwd=tmp_path)
    assert done.stdout.splitlines()[-1] == "Done: 2 created, 1 updated, 0 unchanged, 0 skipped, 3 malformed."
    again = deputy("import", str(path), "--apply", env=env, cwd=tmp_path)
    assert again.stdout.splitlines()[-1] == "Done: 0 created, 0 updated, 3 unchanged, 0 skipped, 3 malformed."
    exported = json.loads(deputy("export", "--json", env=env, cwd=tmp_path).stdout)
    acme = next(r for r in exported if r["fields"]["name"] == "Acme Corp")
    assert acme["fields"]["emails"] == ["jane@acme.com", "bob@acme.com"] and acme["fields"]["tags"] == [
        "vip",
        "priority",
    ]
    assert acme["history"][0]["where"] == "clients.csv:2"
    assert deputy("replay", env=env, cwd=tmp_path).returncode == 0
    back = tmp_path / "back.csv"
    back.write_text(deputy("export", env=env, cwd=tmp_path).stdout)
    assert (
        deputy("import", str(back), env=env, cwd=tmp_path)
        .stdout.splitlines()[-1]
        .startswith("Would do: 0 to create, 0 to update, 2 unchanged")
    )


def test_a_vcard_file_and_its_bad_card(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "people.vcf"
    path.write_text(VCF)
    out = deputy("import", str(path), "--apply", env=env, cwd=tmp_path).stdout.splitlines()
    assert out == [
        "line 1: create client Ola Nowak",
        "line 8: malformed: a vCard without FN (a name)",
        "Done: 1 created, 0 updated, 0 unchanged, 0 skipped, 1 malformed.",
    ]
    [ola] = json.loads(deputy("export", "--json", env=env, cwd=tmp_path).stdout)
    assert ola["fields"]["company"] == "Widgets Sales" and ola["fields"]["notes"] == "met at the fair, likes tea"


async def test_a_forgotten_client_is_not_brought_back(runtime: Runtime, tmp_path: Path) -> None:
    book, now = RedisRecordBook(runtime.redis), datetime.now(UTC)
    gone = Entity("c1", "client")
    gone.put("name", "Northwind", Source("you", "e1", now))
    await book.save([gone], [])
    await book.forget(gone, [])
    path = tmp_path / "c.csv"
    path.write_text(CSV)
    done = await plan(book, Schema(), read(path), "c.csv", now)
    assert "line 3: skipped: a forgotten client (/forget client); it stays forgotten" in done.lines


async def test_ten_thousand_rows_with_duplicates_and_bad_rows_go_in_once(runtime: Runtime, tmp_path: Path) -> None:
    rng = random.Random(7)
    lines = ["name,email,status,terms"]
    for i in range(10_000):
        n = rng.randrange(8_000)  # duplicates: some clients appear on several lines
        lines.append(f"Client {n},c{n}@firm{n % 500}.example,active,net {30 + n % 3 * 15}")
        if i % 1000 == 0:
            lines.append(f"Broken {i},not-an-address,active,")
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines) + "\n")
    book, now = RedisRecordBook(runtime.redis), datetime.now(UTC)
    first = await plan(book, Schema(), read(path), "big.csv", now)
    assert (
        first.counts["malformed"] == 10 and first.counts["create"] == len({ln.split(",")[0] for ln in lines[1:]}) - 10
    )
    assert any(line.startswith("line 2: ") for line in first.lines)
    await apply(book, first, "big.csv", now)
    assert len(await book.ids("client")) == first.counts["create"]
    second = await plan(book, Schema(), read(path), "big.csv", now)
    assert second.counts["create"] == second.counts["update"] == 0
    assert second.counts["unchanged"] == 10_000 and second.counts["malformed"] == 10
