"""Uploads: good files load; each kind of malformed file gets a message naming row, column or file."""
import io
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from runtime import datasets
from runtime.datasets import uploads

Error = datasets.DatasetError


def csv_bytes(rows, header="width,height,colour,kind", sep=","):
    return (header.replace(",", sep) + "\n" + "".join(sep.join(map(str, r)) + "\n" for r in rows)).encode()


GOOD_ROWS = [(i, i * 0.5 if i % 7 else "", ["red", "blue", ""][i % 3], "big" if i >= 20 else "small")
             for i in range(40)]


def png(width, height, colour=None):
    buf = io.BytesIO()
    Image.new("RGB" if colour else "L", (width, height), colour or 128).save(buf, "PNG")
    return buf.getvalue()


def zip_bytes(files, compression=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def npz_bytes(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


class TwoGigabytes(bytes):
    """Claims 2 GB without holding it: the size check must refuse by size alone."""
    def __len__(self):
        return 2_000_000_000


# ---- CSV ----------------------------------------------------------------------------------------

def test_csv_with_text_and_missing_values_loads():
    splits = datasets.load_csv(csv_bytes(GOOD_ROWS), target="kind")
    assert splits.spec.task == "classification" and splits.class_names == ["big", "small"]
    assert splits.feature_names == ["width", "height", "colour=blue", "colour=red"]
    assert splits.x_train.shape == (28, 4) and torch.isfinite(splits.x_train).all()
    assert sum(splits.sizes().values()) == 40


def test_csv_task_inferred_and_overridable():
    assert datasets.load_csv(csv_bytes(GOOD_ROWS), target="width").spec.task == "regression"
    rows = [(i, i % 3, "x", "y") for i in range(30)]
    assert datasets.load_csv(csv_bytes(rows), target="height").spec.output_size == 3   # few whole numbers
    assert datasets.load_csv(csv_bytes(rows), target="height", task="regression").spec.task == "regression"
    with pytest.raises(Error, match="column 'kind' holds text.*regression needs numbers"):
        datasets.load_csv(csv_bytes(GOOD_ROWS), target="kind", task="regression")


def test_csv_semicolons_are_detected_but_a_wrong_delimiter_is_named():
    data = csv_bytes(GOOD_ROWS, sep=";")
    assert datasets.load_csv(data, target="kind").x_train.shape == (28, 4)
    with pytest.raises(Error, match="row 1: the header has no ',' but 3 x ';'.*delimiter=';'"):
        datasets.load_csv(data, target="kind", delimiter=",")


def test_csv_single_column_says_what_separates_columns():
    with pytest.raises(Error, match="one column \\('width height kind'\\): expected feature columns"):
        datasets.load_csv(b"width height kind\n1 2 3\n", target="kind")


def test_csv_ragged_row_names_the_row_and_the_header():
    rows = GOOD_ROWS[:12] + [(1, 2, "red")] + GOOD_ROWS[12:]
    with pytest.raises(Error, match="upload.csv row 14: 3 values, but the header has 4 columns "
                                    "\\(width, height, colour, kind\\)"):
        datasets.load_csv(csv_bytes(rows), target="kind")


def test_csv_text_in_a_numeric_column_names_row_and_column():
    rows = list(GOOD_ROWS)
    rows[20] = ("twenty", 3, "red", "big")
    with pytest.raises(Error, match="row 22, column 'width': 'twenty' is not a number, but 98% of this column"):
        datasets.load_csv(csv_bytes(rows), target="kind", filename="shop.csv")


def test_csv_missing_target_unknown_column_and_free_text_column():
    rows = list(GOOD_ROWS)
    rows[5] = (5, 2.5, "red", "")
    with pytest.raises(Error, match="row 7, column 'kind': the target is missing"):
        datasets.load_csv(csv_bytes(rows), target="kind")
    with pytest.raises(Error, match="no column 'size'. Its columns: width, height, colour, kind"):
        datasets.load_csv(csv_bytes(GOOD_ROWS), target="size")
    names = [(i, 1, f"name {i}", i % 2) for i in range(150)]
    with pytest.raises(Error, match="column 'colour' holds 150 different text values.*drop=\\['colour'\\]"):
        datasets.load_csv(csv_bytes(names), target="kind")
    assert datasets.load_csv(csv_bytes(names), target="kind", drop=["colour"]).x_train.shape[1] == 2
    many = [(i, 1, "red", f"class {i % 120}") for i in range(240)]   # a target may have many classes
    assert datasets.load_csv(csv_bytes(many), target="kind").spec.output_size == 120


def test_csv_too_big_is_refused_before_parsing():
    with pytest.raises(Error, match="big.csv is 2,000 MB; uploads are limited to 200 MB"):
        datasets.load_csv(TwoGigabytes(b"a,b\n1,2\n"), target="b", filename="big.csv")


def test_csv_not_utf8_and_too_few_rows():
    with pytest.raises(Error, match="row 3: byte 10 is not UTF-8"):
        datasets.load_csv(b"a,b\n1,2\n3,\xff\n", target="b")
    with pytest.raises(Error, match="has 2 data rows: at least 10"):
        datasets.load_csv(b"a,b\n1,2\n3,4\n", target="b")


# ---- NPZ ----------------------------------------------------------------------------------------

def test_npz_images_sequences_and_regression_load():
    x = np.random.default_rng(0).random((60, 3, 8, 8)).astype(np.float32)
    splits = datasets.load_npz(npz_bytes(x=x, y=np.arange(60) % 3))
    assert splits.spec.input_shape == (3, 8, 8) and splits.spec.output_size == 3
    seq = datasets.load_npz(npz_bytes(x=x.reshape(60, 64, 3), y=x[:, 0, 0, :2]))
    assert seq.spec.task == "regression" and seq.spec.input_shape == (64, 3) and seq.spec.output_size == 2
    tested = datasets.load_npz(npz_bytes(x=x[:40], y=np.arange(40) % 2, x_test=x[40:], y_test=np.arange(20) % 2))
    assert len(tested.y_test) == 20


def test_npz_object_arrays_are_never_unpickled():
    with pytest.raises(Error, match="holds Python objects \\(pickled arrays\\), which are never loaded"):
        datasets.load_npz(npz_bytes(x=np.array([{"a": 1}] * 20, dtype=object), y=np.arange(20) % 2))


def test_npz_wrong_names_shapes_and_values():
    x = np.zeros((20, 4), np.float32)
    with pytest.raises(Error, match="holds features, labels: expected arrays named x and y"):
        datasets.load_npz(npz_bytes(features=x, labels=np.arange(20)))
    with pytest.raises(Error, match="x has 20 samples \\(20, 4\\) but y is shaped \\(19,\\)"):
        datasets.load_npz(npz_bytes(x=x, y=np.arange(19) % 2))
    y = np.linspace(0, 1, 20)
    y[7] = np.inf
    with pytest.raises(Error, match="y holds inf at sample 7"):
        datasets.load_npz(npz_bytes(x=x, y=y))
    x[3, 2] = np.nan
    with pytest.raises(Error, match="array 'x' holds nan at index \\(3, 2\\)"):
        datasets.load_npz(npz_bytes(x=x, y=np.arange(20) % 2))
    with pytest.raises(Error, match="is not a zip archive"):
        datasets.load_npz(b"not an npz file at all")


# ---- image zip ----------------------------------------------------------------------------------

def test_image_folders_load_as_classes_and_colour_decides_channels():
    files = {f"pets/{c}/{i}.png": png(12, 10, (200, 20, 20) if c == "cat" else None)
             for c in ("cat", "dog") for i in range(10)}
    files["pets/.DS_Store"] = b"junk"
    splits = datasets.load_image_zip(zip_bytes(files))
    assert splits.class_names == ["cat", "dog"] and splits.spec.input_shape == (3, 10, 12)
    grey = datasets.load_image_zip(zip_bytes({f"{c}/{i}.png": png(6, 6) for c in "ab" for i in range(10)}))
    assert grey.spec.input_shape == (1, 6, 6)


def test_images_of_mixed_sizes_name_both_files_or_resize_on_request():
    files = {f"a/{i}.png": png(12, 10) for i in range(10)} | {f"b/{i}.png": png(12, 10) for i in range(9)}
    files["b/9.png"] = png(20, 16)
    with pytest.raises(Error, match="b/9.png is 20x16 pixels \\(width x height\\) but a/0.png is 12x10.*"
                                    "image_size=\\[height, width\\]"):
        datasets.load_image_zip(zip_bytes(files))
    assert datasets.load_image_zip(zip_bytes(files), image_size=[8, 8]).spec.input_shape == (1, 8, 8)


def test_zip_with_path_traversal_is_refused():
    files = {f"a/{i}.png": png(4, 4) for i in range(5)} | {"../../etc/cron.d/evil.png": png(4, 4)}
    with pytest.raises(Error, match="entry '../../etc/cron.d/evil.png' points outside the archive"):
        datasets.load_image_zip(zip_bytes(files))
    with pytest.raises(Error, match="'/abs/x.png' points outside"):
        datasets.load_image_zip(zip_bytes({"/abs/x.png": png(4, 4)}))


def test_zip_bomb_is_refused_by_declared_size(monkeypatch):
    monkeypatch.setattr(uploads, "MAX_UNPACKED_BYTES", 1_000_000)
    bomb = zip_bytes({"a/zeros.png": bytes(2_000_000)}, zipfile.ZIP_DEFLATED)   # compresses to ~2 KB
    assert len(bomb) < 10_000
    with pytest.raises(Error, match="would unpack to 2 MB \\(limit 1 MB\\): refused as a possible zip bomb"):
        datasets.load_image_zip(bomb)


def test_zip_of_too_many_pixels_is_refused_while_reading(monkeypatch):
    from runtime.datasets import zip_upload
    monkeypatch.setattr(zip_upload, "MAX_TOTAL_VALUES", 10 * 10 * 3 * 5)
    files = {f"{c}/{i}.png": png(10, 10) for c in "ab" for i in range(5)}
    with pytest.raises(Error, match="6 images of 10x10 and more are too much data"):
        datasets.load_image_zip(zip_bytes(files))


def test_zip_without_class_folders_or_with_broken_images():
    with pytest.raises(Error, match="x.png is not inside a class folder"):
        datasets.load_image_zip(zip_bytes({"x.png": png(4, 4)}))
    with pytest.raises(Error, match="x.zip: a/1.png is not an image this can read"):
        datasets.load_image_zip(zip_bytes({"a/1.png": b"not a png", "b/1.png": png(4, 4)}), filename="x.zip")
    with pytest.raises(Error, match="in 1 class folder\\(s\\) \\(a\\)"):
        datasets.load_image_zip(zip_bytes({f"a/{i}.png": png(4, 4) for i in range(3)}))
    with pytest.raises(Error, match="huge.zip is 2,000 MB"):
        datasets.load_image_zip(TwoGigabytes(b"PK"), filename="huge.zip")
