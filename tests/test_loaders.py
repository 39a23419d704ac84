"""Every dataset loader on small fixtures in its own format, well-formed and malformed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from training.data import DatasetError, DatasetFormat, MissingImageError, load_dataset


def _image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 24), (200, 30, 30)).save(path)


def _reid(root: Path, name: str, records: list[dict[str, Any]], path_field: str = "file_path") -> Path:
    """Write annotation file `name` and the images its records name under imgs/."""
    root.mkdir(parents=True, exist_ok=True)
    for r in records:
        if isinstance(r, dict) and isinstance(r.get(path_field), str):
            _image(root / "imgs" / r[path_field])
    (root / name).write_text(json.dumps(records))
    return root / name


CUHK = [
    {
        "split": "train",
        "captions": ["A man in a red coat.", "Red coat,  black shoes."],
        "file_path": "CUHK01/0001.png",
        "id": 1,
    },
    {
        "split": "test",
        "captions": ["A woman with a bag."],
        "file_path": "CUHK03/0002.png",
        "id": 2,
        "processed_tokens": [],
    },
    {
        "split": "val",
        "captions": ["Blue jeans."],
        "file_path": "Market/0003.png",
        "id": 3,
        "attributes": {"upper_colour": "red"},
    },
]


def test_cuhk_pedes_from_folder_and_file(tmp_path: Path) -> None:
    file = _reid(tmp_path / "CUHK-PEDES", "reid_raw.json", CUHK)
    for source in (file.parent, file, str(file)):
        ds = load_dataset(source)
        assert ds.name == "cuhk-pedes:CUHK-PEDES" and len(ds) == 3
    first = ds.items[0]
    assert first.path == (file.parent / "imgs" / "CUHK01" / "0001.png").resolve() and first.path.is_absolute()
    assert first.captions == ("A man in a red coat.", "Red coat, black shoes.")  # whitespace collapsed
    assert (first.person_id, first.split) == (1, "train")
    assert ds.items[2].attributes == {"upper_colour": "red"}
    assert [i.person_id for i in ds.split("test").items] == [2]


def test_images_beside_the_file_when_there_is_no_imgs_folder(tmp_path: Path) -> None:
    _image(tmp_path / "a" / "1.png")
    (tmp_path / "reid_raw.json").write_text(
        json.dumps([{"split": "test", "captions": ["x"], "file_path": "a/1.png", "id": 5}])
    )
    assert load_dataset(tmp_path).items[0].path == (tmp_path / "a" / "1.png").resolve()


@pytest.mark.parametrize("name", ["ICFG-PEDES.json", "ICFG_PEDES.json"])
def test_icfg_pedes(tmp_path: Path, name: str) -> None:
    records = [
        {"split": "train", "captions": ["a"], "file_path": "train/0001/0001_01.jpg", "id": 1},
        {"split": "test", "captions": ["b"], "file_path": "test/0002/0002_01.jpg", "id": 2},
    ]
    file = _reid(tmp_path / "ICFG", name, records)
    ds = load_dataset(file.parent)
    assert ds.name.startswith("icfg-pedes") and [i.split for i in ds.items] == ["train", "test"]
    _reid(tmp_path / "bad", name, [{**records[0], "split": "val"}])
    with pytest.raises(
        DatasetError, match=r"record 0: field 'split': expected one of train, test, got 'val'"
    ):
        load_dataset(tmp_path / "bad")


def test_rstpreid(tmp_path: Path) -> None:
    records = [{"id": 0, "img_path": "0000_c14_0031.jpg", "captions": ["a", "b"], "split": "train"}]
    file = _reid(tmp_path / "RSTPReid", "data_captions.json", records, "img_path")
    ds = load_dataset(file)
    assert ds.name.startswith("rstpreid") and ds.items[0].path.name == "0000_c14_0031.jpg"
    _reid(
        tmp_path / "bad",
        "data_captions.json",
        [{k: v for k, v in records[0].items() if k != "img_path"}],
        "img_path",
    )
    with pytest.raises(DatasetError, match=r"data_captions.json: record 0: field 'img_path': missing"):
        load_dataset(tmp_path / "bad")


def test_format_detected_from_content_and_given_explicitly(tmp_path: Path) -> None:
    file = _reid(tmp_path, "annotations.json", CUHK)
    assert load_dataset(file).name.startswith("cuhk-pedes")
    rstp = _reid(
        tmp_path / "r",
        "mine.json",
        [{"id": 1, "img_path": "x.png", "captions": ["a"], "split": "test"}],
        "img_path",
    )
    assert load_dataset(rstp).name.startswith("rstpreid")
    assert load_dataset(file, DatasetFormat.CUHK_PEDES).name.startswith("cuhk-pedes")
    with pytest.raises(DatasetError, match=r"record 0: field 'img_path': missing"):
        load_dataset(file, "rstpreid")  # an explicit format wins over detection
    with pytest.raises(DatasetError, match="unknown dataset format 'coco'"):
        load_dataset(file, "coco")


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ({"not": "a list"}, r"reid_raw.json: expected a JSON list of records, got dict"),
        ([CUHK[0], "oops"], r"reid_raw.json: record 1: expected an object, got str"),
        ([{k: v for k, v in CUHK[0].items() if k != "captions"}], r"record 0: field 'captions': missing"),
        ([{**CUHK[0], "captions": []}], r"record 0: field 'captions': expected a non-empty list"),
        (
            [{**CUHK[0], "captions": ["ok", 3]}],
            r"record 0: field 'captions\[1\]': expected a non-empty string",
        ),
        (
            [CUHK[1], {**CUHK[0], "id": "abc"}],
            r"record 1: field 'id': expected an integer person id, got 'abc'",
        ),
        ([{**CUHK[0], "id": True}], r"record 0: field 'id'"),
        ([{**CUHK[0], "split": "dev"}], r"record 0: field 'split': expected one of train, val, test"),
        ([{**CUHK[0], "file_path": ""}], r"record 0: field 'file_path': expected a non-empty string"),
        ([{**CUHK[0], "attributes": ["red"]}], r"record 0: field 'attributes': expected an object"),
    ],
)
def test_malformed_reid_records_are_named(tmp_path: Path, records: Any, message: str) -> None:
    (tmp_path / "reid_raw.json").write_text(json.dumps(records))
    _image(tmp_path / "imgs" / CUHK[0]["file_path"])
    _image(tmp_path / "imgs" / CUHK[1]["file_path"])
    with pytest.raises(DatasetError, match=message):
        load_dataset(tmp_path)


def test_broken_json_and_missing_images(tmp_path: Path) -> None:
    (tmp_path / "reid_raw.json").write_text('[{"id": 1,')
    with pytest.raises(DatasetError, match=r"reid_raw.json: not valid JSON"):
        load_dataset(tmp_path)
    file = _reid(tmp_path / "m", "reid_raw.json", CUHK)
    (file.parent / "imgs" / "CUHK03" / "0002.png").unlink()
    (file.parent / "imgs" / "Market" / "0003.png").unlink()
    with pytest.raises(MissingImageError) as caught:
        load_dataset(file)
    text = str(caught.value)
    assert "record 1: field 'file_path'" in text and str(file.parent / "imgs" / "CUHK03" / "0002.png") in text
    assert "(and 1 more missing)" in text


def test_folder_and_nothing_found(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such dataset file or folder"):
        load_dataset(tmp_path / "absent")
    with pytest.raises(DatasetError, match="no annotation file in this folder"):
        load_dataset(tmp_path)
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(DatasetError, match="x.txt: not a dataset annotation file"):
        load_dataset(tmp_path / "x.txt")
    (tmp_path / "other.json").write_text(json.dumps([{"name": 1}]))
    with pytest.raises(DatasetError, match="other.json: cannot tell the format"):
        load_dataset(tmp_path / "other.json")


def test_captions_csv(tmp_path: Path) -> None:
    for name in ("a.png", "b.png", "sub/c.png"):
        _image(tmp_path / name)
    (tmp_path / "captions.csv").write_text(
        "image,caption,person_id,split\n"
        'a.png,"A man, in red.",1,train\n'
        "a.png,Red top.,1,train\n"
        "b.png,A woman.,2,test\n"
        "sub/c.png,Another.,2,test\n"
    )
    ds = load_dataset(tmp_path)
    assert ds.name.startswith("folder") and len(ds) == 3
    assert ds.items[0].captions == ("A man, in red.", "Red top.")
    assert [i.split for i in ds.items] == ["train", "test", "test"]
    assert load_dataset(tmp_path / "captions.csv").items[2].path == (tmp_path / "sub" / "c.png").resolve()


def test_captions_csv_without_split_uses_a_stable_identity_split(tmp_path: Path) -> None:
    rows = ["image,caption,person_id"]
    for pid in range(40):
        _image(tmp_path / f"{pid}.png")
        rows.append(f"{pid}.png,person {pid},{pid}")
    (tmp_path / "captions.csv").write_text("\n".join(rows) + "\n")
    ds = load_dataset(tmp_path)
    splits = {i.person_id: i.split for i in ds.items}
    assert set(splits.values()) == {"train", "val", "test"}
    assert splits == {i.person_id: i.split for i in load_dataset(tmp_path).items}  # stable


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("image,text,person_id\na.png,x,1\n", r"captions.csv: line 1: header lacks column\(s\) caption"),
        (
            "image,caption,person_id\na.png,x,1\na.png,y,one\n",
            r"captions.csv: line 3: field 'person_id': expected an integer",
        ),
        ("image,caption,person_id\na.png,,1\n", r"line 2: field 'captions': missing"),
        (
            "image,caption,person_id\na.png,x,1\na.png,y,2\n",
            r"line 3: field 'person_id': a.png is person 1 on line 2",
        ),
        ("image,caption,person_id,split\na.png,x,1,holdout\n", r"line 2: field 'split': expected one of"),
        (
            "image,caption,person_id\nnope.png,x,1\n",
            r"line 2: field 'image': image .*nope.png does not exist",
        ),
    ],
)
def test_malformed_captions_csv(tmp_path: Path, text: str, message: str) -> None:
    _image(tmp_path / "a.png")
    (tmp_path / "captions.csv").write_text(text)
    with pytest.raises(DatasetError, match=message):
        load_dataset(tmp_path)


def test_captions_jsonl(tmp_path: Path) -> None:
    _image(tmp_path / "a.png")
    _image(tmp_path / "b.png")
    lines = [
        {"image": "a.png", "caption": "one", "person_id": 4, "split": "val"},
        {"image": "a.png", "captions": ["two", "three"], "person_id": 4},
        {"image": "b.png", "captions": ["four"], "person_id": "5", "split": "test"},
    ]
    (tmp_path / "captions.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    ds = load_dataset(tmp_path)
    assert [i.captions for i in ds.items] == [("one", "two", "three"), ("four",)]
    assert [(i.person_id, i.split) for i in ds.items] == [(4, "val"), (5, "test")]
    (tmp_path / "captions.jsonl").write_text(json.dumps(lines[0]) + "\n{oops\n")
    with pytest.raises(DatasetError, match=r"captions.jsonl: line 2: not valid JSON"):
        load_dataset(tmp_path)
    (tmp_path / "captions.jsonl").write_text(json.dumps(["a.png", "x"]) + "\n")
    with pytest.raises(DatasetError, match=r"line 1: expected an object, got list"):
        load_dataset(tmp_path)


def _task(task_id: int, image: str, texts: list[str], **extra: Any) -> dict[str, Any]:
    result = [{"from_name": "caption", "to_name": "image", "type": "textarea", "value": {"text": texts}}]
    data = {"image": image, **extra.pop("data", {})}
    return {
        "id": task_id,
        "data": data,
        "annotations": [{"id": task_id, "result": result, "was_cancelled": False}],
        **extra,
    }


def test_label_studio_export(tmp_path: Path) -> None:
    _image(tmp_path / "upload" / "3" / "abc-p1.jpg")
    _image(tmp_path / "crops" / "p2.jpg")
    _image(tmp_path / "p3.jpg")
    pid_result = {"from_name": "person_id", "to_name": "image", "type": "number", "value": {"number": 9}}
    cancelled = {
        "id": 99,
        "result": [{"type": "textarea", "from_name": "caption", "value": {"text": ["ignored"]}}],
        "was_cancelled": True,
    }
    tasks = [
        _task(1, "/data/upload/3/abc-p1.jpg", ["a man", "in red"], data={"person_id": 7, "split": "test"}),
        _task(2, "/data/local-files/?d=crops/p2.jpg", ["a woman"]),
        _task(3, "p3.jpg", ["a child"]),
        {"id": 4, "data": {"image": "p4.jpg"}, "annotations": []},  # not captioned yet: skipped
    ]
    tasks[1]["annotations"][0]["result"].append(pid_result)
    tasks[2]["annotations"].append(cancelled)
    (tmp_path / "project-1-at-2026.json").write_text(json.dumps(tasks))
    ds = load_dataset(tmp_path)  # found in the folder by content
    assert ds.name == "label-studio:project-1-at-2026" and len(ds) == 3
    assert [i.captions for i in ds.items] == [("a man", "in red"), ("a woman",), ("a child",)]
    assert [i.person_id for i in ds.items] == [7, 9, 3]  # data, a number result, the task id
    assert (
        ds.items[0].split == "test"
        and ds.items[0].path == (tmp_path / "upload" / "3" / "abc-p1.jpg").resolve()
    )


@pytest.mark.parametrize(
    ("task", "message"),
    [
        (_task(1, "https://example.com/a.jpg", ["x"]), r"task 1: field 'data.image': .* is remote"),
        (_task(1, "missing.jpg", ["x"]), r"task 1: field 'data.image': image .*missing.jpg does not exist"),
        (
            _task(1, "a.jpg", ["x"], data={"person_id": "bob"}),
            r"task 1: field 'person_id': expected an integer",
        ),
        (
            {"id": 1, "data": {"image": "a.jpg"}, "annotations": {"result": []}},
            r"task 1: field 'annotations'",
        ),
        ({"id": 1, "data": "a.jpg"}, r"task 1: field 'data': expected a task object"),
    ],
)
def test_malformed_label_studio(tmp_path: Path, task: dict[str, Any], message: str) -> None:
    _image(tmp_path / "a.jpg")
    file = tmp_path / "export.json"
    file.write_text(json.dumps([_task(5, "a.jpg", ["fine"]), task]))
    with pytest.raises(DatasetError, match=message):
        load_dataset(file, "label-studio")
