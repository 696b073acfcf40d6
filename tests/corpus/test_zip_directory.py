"""A zip's size is judged from its end records before anything parses its list of files."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader import submission
from grader.submission import MAX_ZIP_ENTRIES, SubmissionError, central_directory, open_zip


def _zip(path: Path, names: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name in names:
            zf.writestr(zipfile.ZipInfo(name), b"", compress_type=zipfile.ZIP_STORED)
    return path


names = st.lists(st.text(st.characters(codec="utf-8", exclude_characters="\x00/\\"), min_size=1, max_size=40),
                 max_size=60, unique=True)


@settings(max_examples=40, deadline=None)
@given(names=names)
def test_the_end_record_gives_what_zipfile_finds(tmp_path_factory, names):
    path = _zip(tmp_path_factory.mktemp("z") / "s.zip", names)
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
    entries, cd_bytes = central_directory(path)
    assert entries == len(infos)
    assert cd_bytes == sum(46 + len(i.filename.encode("utf-8")) + len(i.extra) + len(i.comment) for i in infos)


def test_a_zip_of_too_many_files_is_refused_before_zipfile_reads_it(tmp_path, monkeypatch):
    path = _zip(tmp_path / "many.zip", [f"f{i}" for i in range(MAX_ZIP_ENTRIES + 1)])
    monkeypatch.setattr(submission.zipfile, "ZipFile", _never)
    with pytest.raises(SubmissionError, match=rf"many.zip holds {MAX_ZIP_ENTRIES + 1} files, more than the {MAX_ZIP_ENTRIES} allowed"):
        open_zip(path)


def test_a_zip_whose_end_record_lies_about_its_count_is_refused_by_its_size(tmp_path, monkeypatch):
    """ZipFile reads as many entries as the directory's size holds, whatever the count says."""
    long_names = [f"{i:06d}" + "x" * 1500 for i in range(MAX_ZIP_ENTRIES)]
    path = _zip(tmp_path / "liar.zip", long_names)
    data = bytearray(path.read_bytes())
    at = data.rfind(b"PK\x05\x06")
    data[at + 8:at + 12] = (1).to_bytes(2, "little") * 2     # "one entry"
    path.write_bytes(bytes(data))
    monkeypatch.setattr(submission.zipfile, "ZipFile", _never)
    with pytest.raises(SubmissionError, match=r"liar.zip lists more files than the \d+ allowed \(its list of files takes \d+ MB\)"):
        open_zip(path)


def test_zip64_end_records_are_read(tmp_path, monkeypatch):
    # a writer switches to Zip64 end records beyond 65535 entries: lower that limit to force them
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 1)
    path = _zip(tmp_path / "z64.zip", ["a.py", "b.py", "c.py"])
    monkeypatch.undo()
    data = bytearray(path.read_bytes())
    at = data.rfind(b"PK\x05\x06")
    assert data[at - 20:at - 16] == b"PK\x06\x07"                    # a Zip64 locator precedes the end record
    data[at + 8:at + 16] = b"\xff" * 8                                # whose counts and size say "see Zip64"
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as zf:
        assert len(zf.infolist()) == 3
    assert central_directory(path) == (3, 3 * (46 + 4))


def test_no_end_record_is_left_to_zipfile(tmp_path):
    path = tmp_path / "junk.zip"
    path.write_bytes(b"not a zip at all" * 10)
    assert central_directory(path) is None
    with pytest.raises(zipfile.BadZipFile):
        open_zip(path)


def _never(*args, **kwargs):
    raise AssertionError("ZipFile was asked to parse a directory already known to be too large")


def test_the_class_analyses_do_not_parse_a_huge_zip_either(tmp_path, monkeypatch):
    from grader.analysis import alike

    path = _zip(tmp_path / "many.zip", [f"f{i}.py" for i in range(MAX_ZIP_ENTRIES + 1)])
    monkeypatch.setattr(submission.zipfile, "ZipFile", _never)
    assert alike.code_digest(path) is None        # not compared, and nothing parsed
