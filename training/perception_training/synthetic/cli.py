"""Command line: ``python -m perception_training.synthetic <format> --out DIR ...``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from perception_training.synthetic.captions import LANGUAGES
from perception_training.synthetic.contact_sheet import write_contact_sheet
from perception_training.synthetic.signing import write_aihub_dataset
from perception_training.synthetic.sim2real import add_sim2real_argument, sim2real_from_args
from perception_training.synthetic.world import KINDS
from perception_training.synthetic.writers.captions import write_caption_dataset
from perception_training.synthetic.writers.glass import write_glass_crops
from perception_training.synthetic.writers.tiny_imagenet import CATEGORIES, write_tiny_imagenet
from perception_training.synthetic.writers.yolo import write_yolo_dataset


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"size must look like 640x480, got {text!r}") from error
    return width, height


def _yolo(args: argparse.Namespace) -> None:
    counts = {"train": args.train, "val": args.val, "test": args.test}
    sim2real = sim2real_from_args(args.sim2real)
    path = write_yolo_dataset(args.out, args.seed, counts, args.size, tuple(args.kinds), sim2real)
    print(path)


def _glass(args: argparse.Namespace) -> None:
    print(write_glass_crops(args.out, args.seed, {"train": args.train, "test": args.test}, args.size))


def _captions(args: argparse.Namespace) -> None:
    counts = {"train": args.train, "val": args.val, "test": args.test}
    sim2real = sim2real_from_args(args.sim2real)
    languages = tuple(args.languages)
    print(write_caption_dataset(args.out, args.seed, counts, args.size, languages, sim2real=sim2real))


def _tiny(args: argparse.Namespace) -> None:
    print(write_tiny_imagenet(args.out, args.seed, args.classes, args.train, args.val, args.test))


def _sign(args: argparse.Namespace) -> None:
    print(write_aihub_dataset(args.out, args.seed, args.videos, tuple(args.words), args.size, args.fps))


def _sheet(args: argparse.Namespace) -> None:
    sheet = write_contact_sheet(
        args.out, args.seed, args.columns, args.rows, args.size, sim2real_from_args(args.sim2real)
    )
    print(sheet)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m perception_training.synthetic",
        description="Write datasets drawn from the seeded synthetic world.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    yolo = commands.add_parser("yolo", help="YOLO detection dataset (data.yaml, images/, labels/)")
    yolo.add_argument("--out", required=True, help="output folder")
    yolo.add_argument("--seed", type=int, default=0)
    yolo.add_argument("--train", type=int, default=600, help="number of training scenes")
    yolo.add_argument("--val", type=int, default=100)
    yolo.add_argument("--test", type=int, default=100)
    yolo.add_argument("--size", type=_size, default=(640, 480), help="WIDTHxHEIGHT, default 640x480")
    yolo.add_argument(
        "--kinds",
        nargs="+",
        default=["mixed", "glass"],
        help=f"scene kinds, used in turn: {', '.join(KINDS)}; KIND+NAME makes each such scene include a NAME "
        "(e.g. mixed+knife)",
    )
    add_sim2real_argument(yolo)
    yolo.set_defaults(run=_yolo)
    glass = commands.add_parser(
        "glass", help="glass-type crops as an ImageFolder tree (split/glass_type/*.png)"
    )
    glass.add_argument("--out", required=True, help="output folder")
    glass.add_argument("--seed", type=int, default=0)
    glass.add_argument("--train", type=int, default=300, help="number of training crops")
    glass.add_argument("--test", type=int, default=90)
    glass.add_argument(
        "--size", type=_size, default=(640, 480), help="scene WIDTHxHEIGHT the crops come from"
    )
    glass.set_defaults(run=_glass)
    caption = commands.add_parser(
        "captions", help="captioned images: captions.txt in csv, tsv and flickr layouts"
    )
    caption.add_argument("--out", required=True, help="output folder")
    caption.add_argument("--seed", type=int, default=0)
    caption.add_argument("--train", type=int, default=800, help="number of training images")
    caption.add_argument("--val", type=int, default=100)
    caption.add_argument("--test", type=int, default=100)
    caption.add_argument("--size", type=_size, default=(224, 224), help="WIDTHxHEIGHT, default 224x224")
    caption.add_argument("--languages", nargs="+", choices=LANGUAGES, default=list(LANGUAGES))
    add_sim2real_argument(caption)
    caption.set_defaults(run=_captions)
    tiny = commands.add_parser("tiny-imagenet", help="mini Tiny-ImageNet-200 (64x64, wnids, boxes)")
    tiny.add_argument("--out", required=True, help="output folder")
    tiny.add_argument("--seed", type=int, default=0)
    tiny.add_argument("--classes", type=int, default=10, help=f"number of classes, 2-{len(CATEGORIES)}")
    tiny.add_argument("--train", type=int, default=100, help="training images per class")
    tiny.add_argument("--val", type=int, default=20, help="validation images per class")
    tiny.add_argument("--test", type=int, default=20, help="test images per class")
    tiny.set_defaults(run=_tiny)
    sign = commands.add_parser(
        "sign", help="sign-language videos in the AIHub layout (video/*.mp4, label/*_morpheme.json)"
    )
    sign.add_argument("--out", required=True, help="output folder")
    sign.add_argument("--seed", type=int, default=0)
    sign.add_argument("--videos", type=int, default=100, help="number of videos")
    sign.add_argument(
        "--words", type=int, nargs=2, default=[2, 4], metavar=("MIN", "MAX"), help="signs per video"
    )
    sign.add_argument("--size", type=_size, default=(160, 120), help="WIDTHxHEIGHT (even), default 160x120")
    sign.add_argument("--fps", type=int, default=15)
    sign.set_defaults(run=_sign)
    sheet = commands.add_parser("contact-sheet", help="PNG grid of annotated sample scenes")
    sheet.add_argument("--out", required=True, help="PNG file to write")
    sheet.add_argument("--seed", type=int, default=0)
    sheet.add_argument("--columns", type=int, default=4)
    sheet.add_argument("--rows", type=int, default=3)
    sheet.add_argument("--size", type=_size, default=(320, 240), help="tile WIDTHxHEIGHT")
    add_sim2real_argument(sheet)
    sheet.set_defaults(run=_sheet)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.run(args)
