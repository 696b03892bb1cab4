"""The record of recent workspaces: most recent first, each once, at most LIMIT, real paths, a
private file written whole; a damaged record is one note and an empty list, never a crash."""

import os
import stat

import pytest

from tether import workspaces
from tether.workspaces import LIMIT, NotRecent


def folders(base, n):
    made = []
    for i in range(n):
        folder = base / f"w{i}"
        folder.mkdir()
        made.append(folder.resolve())
    return made


def test_the_latest_comes_first_each_once(tmp_path):
    a, b, c = folders(tmp_path, 3)
    for root in (a, b, c, a):
        assert workspaces.remember(root)
    assert workspaces.read() == ([str(a), str(c), str(b)], None)


def test_at_most_the_limit_are_kept(tmp_path):
    made = folders(tmp_path, LIMIT + 5)
    for root in made:
        workspaces.remember(root)
    kept = workspaces.read()[0]
    assert len(kept) == LIMIT and kept[0] == str(made[-1]) and str(made[0]) not in kept


def test_paths_are_kept_by_their_real_path(tmp_path):
    (real,) = folders(tmp_path, 1)
    link = tmp_path / "link"
    link.symlink_to(real)
    workspaces.remember(link)
    workspaces.remember(tmp_path / "w0" / ".." / "w0")
    assert workspaces.read()[0] == [str(real)]


def test_the_record_is_private_and_written_whole(tmp_path):
    (a,) = folders(tmp_path, 1)
    workspaces.remember(a)
    record = workspaces.record_file()
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert [p.name for p in record.parent.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize("text", ["{not json", '{"a": 1}', "[1, 2]", "\xff"])
def test_a_damaged_record_is_one_note_and_an_empty_list(tmp_path, text):
    (a,) = folders(tmp_path, 1)
    workspaces.record_file().write_text(text, encoding="latin-1")
    paths, note = workspaces.read()
    assert paths == [] and "recent workspaces" in note and "\n" not in note
    listed = workspaces.recent(a)
    assert [w.path for w in listed.workspaces] == [str(a)] and listed.note == note
    assert workspaces.remember(a)  # the next one starts the list over
    assert workspaces.read() == ([str(a)], None)


def test_an_unwritable_record_fails_no_command(tmp_path):
    (a,) = folders(tmp_path, 1)
    record = workspaces.record_file()
    record.mkdir()  # a folder where the file should be: the write cannot happen
    assert workspaces.remember(a) is False


def test_the_listing_marks_the_current_one_and_each_trust_state(tmp_path):
    from tether import trust

    a, b, c = folders(tmp_path, 3)
    (b / "tether.toml").write_text("[leash]\nlevel = 'approve'\n")
    (c / "tether.toml").write_text("[leash]\nlevel = 'approve'\n")
    trust.trust(c / "tether.toml")
    for root in (c, b, a):
        workspaces.remember(root)
    gone = tmp_path / "gone"
    gone.mkdir()
    workspaces.remember(gone)
    gone.rmdir()
    listed = workspaces.recent(b).to_dict()["workspaces"]
    assert [(w["path"], w["label"], w["current"]) for w in listed] == [
        (str(a), "no tether.toml", False),
        (str(b), "config not trusted", True),
        (str(c), "trusted config", False),
    ]


def test_only_a_recorded_folder_can_be_chosen(tmp_path):
    a, b = folders(tmp_path, 2)
    workspaces.remember(a)
    assert workspaces.chosen(str(a)) == a
    assert workspaces.chosen(str(b), current=b) == b  # the one open now
    for refused in (str(b), "", None, 3, str(a) + "/../w1", str(a) + "/"):
        with pytest.raises(NotRecent):
            workspaces.chosen(refused)
    os.rmdir(a)
    with pytest.raises(NotRecent, match="no longer a folder"):
        workspaces.chosen(str(a))
