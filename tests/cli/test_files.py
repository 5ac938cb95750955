"""The scoring command's file streaming: CSV read in exact chunks of text, chunks written
with one schema."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.errors import LeadscoreError
from features.files import ChunkWriter, count_rows, read_chunks


def test_csv_chunks_have_the_asked_size_and_keep_text_as_text(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    ids = [f"{i:04d}" for i in range(103)]
    # a byte-order mark, ids with leading zeros, empty cells, quoted commas and newlines
    body = "".join(
        f'{i},"Acme, Inc.",{"" if n % 5 else "3.0"},"two\nlines"\n' for n, i in enumerate(ids)
    )
    path.write_bytes(("\ufeffid,company,visits,note\n" + body).encode("utf-8"))
    chunks = list(read_chunks(path, "csv", 10))
    assert [len(c) for c in chunks] == [10] * 10 + [3]
    frame = pd.concat(chunks)
    assert list(frame.columns) == ["id", "company", "visits", "note"]
    assert frame["id"].tolist() == ids
    assert frame["company"].unique().tolist() == ["Acme, Inc."]
    assert frame["visits"].tolist() == ["3.0" if n % 5 == 0 else "" for n in range(103)]
    assert frame["note"].iloc[0] == "two\nlines"
    # the same text the whole-file reader (training, evaluation) gives
    whole = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert frame.reset_index(drop=True).astype(object).equals(whole.astype(object))


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"id,a\n1,x\n2,y,z\n", "could not read csv file .*bad.csv.*"),
        (b"id,a\n1,\xff\xfe\n", "could not read csv file .*bad.csv.*"),
    ],
)
def test_a_broken_csv_is_an_error_naming_the_file(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(LeadscoreError, match=expected):
        list(read_chunks(path, "csv", 10))


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_only_the_asked_columns_are_read_in_file_order(tmp_path: Path, kind: str) -> None:
    frame = pd.DataFrame(
        {name: [f"{name}{i}" for i in range(25)] for name in ["id", "x", "visits", "y"]}
    )
    path = tmp_path / f"leads.{kind}"
    frame.to_csv(path, index=False) if kind == "csv" else frame.to_parquet(path)
    chunks = list(read_chunks(path, kind, 10, columns=["visits", "id", "absent"]))
    assert [len(c) for c in chunks] == [10, 10, 5]
    read = pd.concat(chunks, ignore_index=True)
    assert list(read.columns) == ["id", "visits"]  # the absent one is the caller's to name
    assert read["visits"].tolist() == frame["visits"].tolist()


def test_a_header_only_csv_has_no_chunks(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("id,a\n", encoding="utf-8")
    assert list(read_chunks(path, "csv", 10)) == []


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_chunks_whose_text_columns_are_empty_still_write_one_schema(
    tmp_path: Path, kind: str
) -> None:
    def chunk(statuses: list[str | None], start: int) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "id": pd.Series([str(start + i) for i in range(len(statuses))], dtype="str"),
                "probability": np.linspace(0.1, 0.9, len(statuses)),
                "changed": [True, False][: len(statuses)],
                "lead_status": pd.Series(statuses, dtype=object),
            }
        )

    path = tmp_path / f"scores.{kind}"
    with ChunkWriter(path, kind) as writer:
        writer.write(chunk([None, None], 0))  # all empty: would be Arrow's null type
        writer.write(chunk(["NEW", None], 2))
    back = (
        pd.read_csv(path, dtype=str, keep_default_na=False)
        if kind == "csv"
        else pd.read_parquet(path)
    )
    assert back["id"].tolist() == ["0", "1", "2", "3"]
    assert back["lead_status"].fillna("").tolist() == ["", "", "NEW", ""]
    assert back["changed"].astype(str).str.lower().tolist() == ["true", "false", "true", "false"]


def test_a_failed_write_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "scores.csv"
    with pytest.raises(RuntimeError), ChunkWriter(path, "csv") as writer:
        writer.write(pd.DataFrame({"a": [1.0]}))
        raise RuntimeError("scoring failed half-way")
    assert not path.exists()


@pytest.mark.parametrize("later_chunks", [0, 2])
def test_a_write_failing_in_the_writer_thread_is_raised_and_leaves_no_file(
    tmp_path: Path, later_chunks: int
) -> None:
    import pyarrow as pa

    path = tmp_path / "scores.csv"
    good = pd.DataFrame({"probability": [0.5, 0.7]})
    bad = pd.DataFrame({"probability": ["not", "numbers"]})  # the schema says double
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError)), ChunkWriter(path, "csv") as writer:
        writer.write(good)
        writer.write(bad)
        for _ in range(later_chunks):  # raised by the next write, or on leaving
            writer.write(good)
    assert not path.exists()


def test_a_gzipped_csv_reads_as_the_plain_one(tmp_path: Path) -> None:
    import gzip

    text = "\ufeffid,company\n" + "".join(f'{i:04d},"Acme, Inc."\n' for i in range(25))
    plain, packed = tmp_path / "leads.csv", tmp_path / "leads.csv.gz"
    plain.write_text(text, encoding="utf-8")
    packed.write_bytes(gzip.compress(text.encode("utf-8")))
    expected = pd.concat(read_chunks(plain, "csv", 10))
    assert expected["id"].iloc[-1] == "0024"
    assert pd.concat(read_chunks(packed, "csv", 10)).equals(expected)
    assert count_rows(plain, "csv") == 25 and count_rows(packed, "csv") is None
