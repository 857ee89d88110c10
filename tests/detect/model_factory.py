"""A small YOLO model trained on the simulator's street (no weights can be downloaded here), cached by its recipe."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ingest.proc import die_with_parent
from matthan.simulator import footage, scene
from matthan.simulator.footage import StreetRenderer

logger = logging.getLogger(__name__)

# COCO's names in the model, so labels map through detect.labels exactly as a real COCO model's would.
NAMES = ("person", "bicycle", "car", "motorcycle", "bus", "truck")
CLASS_ID = {"motorbike": NAMES.index("motorcycle"), "person": NAMES.index("person")}
HELD_OUT_CAMERAS = (10, 11)  # neither trained nor validated on: what tests should look at
FACTORY_VERSION = 1  # bump when the code below changes what gets trained
REPO = Path(__file__).resolve().parents[2]
TRAIN_TIMEOUT_S = 1800  # about 4 minutes on 2 idle cores; far longer when other jobs share them


def offline_ultralytics(config_dir: Path) -> None:
    """Keep ultralytics off the network; takes effect only before ultralytics is first imported (read at import)."""
    os.environ["YOLO_OFFLINE"] = "1"  # no DNS probe, hence no analytics events and no download attempts
    os.environ["YOLO_AUTOINSTALL"] = "0"  # never pip-install a "missing" requirement mid-test
    os.environ.setdefault("YOLO_CONFIG_DIR", str(config_dir))


def _font_stub() -> None:
    # check_det_dataset() wants Arial.ttf and otherwise asks GitHub for it (requests.head), plots=False or not.
    # Nothing is drawn, so any TrueType font under that name, where ultralytics looks, ends the lookup locally.
    import matplotlib
    from ultralytics.utils import USER_CONFIG_DIR

    stub = Path(USER_CONFIG_DIR) / "Arial.ttf"
    if not stub.exists():
        stub.parent.mkdir(parents=True, exist_ok=True)
        tmp = stub.with_name(f".Arial.{os.getpid()}.tmp")
        shutil.copyfile(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf", tmp)
        os.replace(tmp, stub)


@dataclass(frozen=True)
class Recipe:
    """Everything that decides the trained model; its hash names the cached weights."""

    width: int = 640
    height: int = 360
    train_cameras: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7)
    val_cameras: tuple[int, ...] = (8, 9)  # held out: backgrounds the model never trained on
    per_camera: tuple[int, int, int] = (10, 8, 3)  # motorbike, person, empty frames from each camera
    crop_fraction: float = 1.0  # share of object frames also saved as an imgsz crop, as region mode feeds them
    imgsz: int = 256
    epochs: int = 8
    batch: int = 8
    lr0: float = 0.003
    warmup_epochs: float = 1.0
    class_prior: float = 0.01  # starting class probability per cell (see _raise_class_prior)
    close_mosaic: int = 2  # last epochs on plain frames: the test and real frames are not mosaics
    mosaic: float = 1.0
    seed: int = 0

    def key(self) -> str:
        params = {**asdict(self), "factory": FACTORY_VERSION, "footage": footage.FOOTAGE_VERSION,
                  "crossings": [asdict(c) for c in scene.CROSSINGS], "ultralytics": metadata.version("ultralytics")}
        return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]


DEFAULT = Recipe()


def trained_model(cache_dir: Path, recipe: Recipe = DEFAULT, *, niceness: int = 0) -> Path:
    """Path of best.pt for `recipe`, training it (about 4 minutes on 2 idle cores) unless another run already did.
    With `niceness` 19 the training takes only the CPU nothing else wants (the suite trains beside other tests)."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / f"street-yolo11n-{recipe.imgsz}-{recipe.key()}.pt"
    if target.exists():
        return target
    with _locked(cache_dir / f".{target.stem}.lock"):
        if target.exists():  # another process trained it while we waited for the lock
            return target
        for stale in cache_dir.glob(f".{target.stem}.*"):  # left by a run that was killed; we hold the lock
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
        work = Path(tempfile.mkdtemp(prefix=f".{target.stem}.", dir=cache_dir))
        try:
            report = _train_in_child(work, recipe, config_dir=cache_dir / "ultralytics-config", niceness=niceness)
            logger.info("trained %s: dataset %.1f s, training %.1f s", target.name, report["dataset_s"],
                        report["train_s"])  # fmt: skip
            os.replace(work / "report.json", target.with_suffix(".json"))
            os.replace(work / "best.pt", target)  # atomic: other processes see no file or the whole file
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target


def _train_in_child(work: Path, recipe: Recipe, *, config_dir: Path, niceness: int = 0) -> dict[str, Any]:
    """Train in a fresh interpreter: the environment below must precede the first torch/ultralytics import, and
    training's global side effects (torch threads, ultralytics settings and callbacks) stay out of the caller."""
    cpus = str(os.cpu_count() or 1)
    env = {
        **os.environ,
        "YOLO_OFFLINE": "1", "YOLO_AUTOINSTALL": "0",
        "YOLO_CONFIG_DIR": os.environ.get("YOLO_CONFIG_DIR", str(config_dir)),
        "OMP_NUM_THREADS": cpus,  # ultralytics would pin training to cpu_count - 1 threads: one of two cores
        # Idle OpenMP threads sleep instead of spinning: with both cores in use, a spinning thread that shares its
        # core with another job makes each step 2-3x slower than one thread would be (measured here).
        "OMP_WAIT_POLICY": "PASSIVE",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }  # fmt: skip
    log = work / "train.log"
    command = [sys.executable, "-m", "tests.detect.model_factory", str(work), json.dumps(asdict(recipe))]
    with open(log, "wb") as out:
        proc = subprocess.run(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                              timeout=TRAIN_TIMEOUT_S, preexec_fn=lambda: _child_setup(niceness))  # fmt: skip
    if proc.returncode != 0 or not (work / "best.pt").exists():
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"training the test model failed (exit {proc.returncode}):\n{tail}")
    return json.loads((work / "report.json").read_text())


def _child_setup(niceness: int) -> None:
    die_with_parent()  # a test run that is killed leaves no training behind
    if niceness:
        os.nice(niceness)


def _child(work: Path, recipe: Recipe) -> None:
    started = time.perf_counter()
    data = make_dataset(work / "data", recipe)
    generated = time.perf_counter()
    best = train(work / "runs", data, recipe)
    trained = time.perf_counter()
    shutil.copyfile(best, work / "best.pt")
    report = {"dataset_s": round(generated - started, 1), "train_s": round(trained - generated, 1),
              "cpus": os.cpu_count(), "bytes": (work / "best.pt").stat().st_size, "recipe": asdict(recipe)}
    (work / "report.json").write_text(json.dumps(report, indent=1))


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # blocks while another test process trains the same recipe
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- dataset ------------------------------------------------------------------------------------------------------

def sample_times(rng: random.Random, recipe: Recipe) -> list[float]:
    """Cycle times across the motorbike crossing, the person crossing and the empty street."""
    moto, person, empty = recipe.per_camera
    spans = {c.kind: (c.start, c.end) for c in scene.CROSSINGS}
    still = scene.intervals(0.0, scene.CYCLE_SECONDS, moving=False)
    times = [rng.uniform(*spans["motorbike"]) for _ in range(moto)]
    times += [rng.uniform(*spans["person"]) for _ in range(person)]
    times += [rng.uniform(*rng.choice(still)) for _ in range(empty)]
    return times


def yolo_line(kind: str, box: tuple[int, int, int, int], width: int, height: int) -> str:
    x, y, w, h = box
    return f"{CLASS_ID[kind]} {(x + w / 2) / width:.6f} {(y + h / 2) / height:.6f} {w / width:.6f} {h / height:.6f}"


def crop_around(box: tuple[int, int, int, int], size: int, width: int, height: int,
                rng: random.Random) -> tuple[int, int, int, int]:
    """A size×size window (clamped to the frame) holding `box` at a random place, like region mode's crops."""
    x, y, w, h = box
    cw, ch = min(size, width), min(size, height)
    x0 = rng.randint(max(0, x + w - cw), max(0, min(x, width - cw)))
    y0 = rng.randint(max(0, y + h - ch), max(0, min(y, height - ch)))
    return x0, y0, cw, ch


def make_dataset(root: Path, recipe: Recipe) -> Path:
    """Write images/labels for train and val (YOLO format) and the data YAML; returns the YAML's path."""
    rng = random.Random(recipe.seed)
    for split, cameras in (("train", recipe.train_cameras), ("val", recipe.val_cameras)):
        images, labels = root / "images" / split, root / "labels" / split
        images.mkdir(parents=True)
        labels.mkdir(parents=True)
        for camera in cameras:
            renderer = StreetRenderer(camera_index=camera, width=recipe.width, height=recipe.height)
            for n, t in enumerate(sample_times(rng, recipe)):
                image = renderer.frame(t, round(t * scene.FPS))
                found = renderer.object_box(t)
                stem = f"cam{camera}_{n:03d}"
                lines = [yolo_line(found[0], found[1], recipe.width, recipe.height)] if found else []
                cv2.imwrite(str(images / f"{stem}.png"), image)
                (labels / f"{stem}.txt").write_text("\n".join(lines))
                if found and split == "train" and rng.random() < recipe.crop_fraction:
                    # merged regions make crops somewhat larger than the model size too
                    size = rng.randint(recipe.imgsz, round(recipe.imgsz * 1.4))
                    cx, cy, cw, ch = crop_around(found[1], size, recipe.width, recipe.height, rng)
                    x, y, w, h = found[1]
                    inner = (x - cx, y - cy, w, h)
                    cv2.imwrite(str(images / f"{stem}_crop.png"), image[cy:cy + ch, cx:cx + cw])
                    (labels / f"{stem}_crop.txt").write_text(yolo_line(found[0], inner, cw, ch))
    data = root / "data.yaml"
    names = "\n".join(f"  {i}: {name}" for i, name in enumerate(NAMES))
    data.write_text(f"path: {root}\ntrain: images/train\nval: images/val\nnames:\n{names}\n")
    return data


# --- training -----------------------------------------------------------------------------------------------------

def train(project: Path, data: Path, recipe: Recipe) -> Path:
    """Train yolo11n from random weights on CPU; returns best.pt (chosen on the held-out cameras). Run it in the
    child process that _train_in_child starts: it needs the offline environment set before ultralytics loads."""
    from ultralytics import YOLO

    _font_stub()
    model = YOLO("yolo11n.yaml")  # random init: no pretrained weights can be fetched here
    prior_logit = float(np.log(recipe.class_prior / (1 - recipe.class_prior)))

    def _raise_class_prior(trainer: Any) -> None:
        # ultralytics starts class scores near 1e-4 per cell (right for 300 COCO epochs); from random weights, a few
        # hundred steps do not lift them out of it, so start from the 1% prior of RetinaNet instead.
        for net in (trainer.model, trainer.ema.ema):
            for branch in net.model[-1].cv3:
                branch[-1].bias.data.fill_(prior_logit)

    def _use_every_core(trainer: Any) -> None:
        # ultralytics trains on cpu_count - 1 threads (leaving one to dataloader workers): 1 of our 2 cores.
        # With workers=0 nothing else runs beside the model, so give it every core: 26 s an epoch instead of 34.
        import torch

        torch.set_num_threads(os.cpu_count() or 1)

    model.add_callback("on_pretrain_routine_start", _use_every_core)
    model.add_callback("on_pretrain_routine_end", _raise_class_prior)
    model.train(
        data=str(data), epochs=recipe.epochs, imgsz=recipe.imgsz, batch=recipe.batch, device="cpu", workers=0,
        project=str(project), name="street", exist_ok=True, seed=recipe.seed, deterministic=False,
        pretrained=False, amp=False, plots=False, verbose=False, cache="ram",
        # A few hundred steps from random weights: step on every batch (ultralytics otherwise accumulates to a
        # nominal batch of 64, an eighth of the steps) and keep the warm-up short.
        nbs=recipe.batch, warmup_epochs=recipe.warmup_epochs, optimizer="AdamW", lr0=recipe.lr0,
        close_mosaic=recipe.close_mosaic, mosaic=recipe.mosaic,
    )  # fmt: skip
    best = project / "street" / "weights" / "best.pt"
    if not best.exists():
        raise RuntimeError(f"training finished without {best}")
    return best


if __name__ == "__main__":  # the training child: python -m tests.detect.model_factory WORK_DIR RECIPE_JSON
    logging.basicConfig(level=logging.INFO)
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(sys.argv[2]).items()}
    _child(Path(sys.argv[1]), Recipe(**fields))
