"""Presets: named run configs with a one-line description, kept as TOML files in
resources/presets. A preset file is a run config (its [data], [model] and [train] tables) plus a
top-level `description` string, which is read here and never reaches RunConfig."""

from __future__ import annotations

import site
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from vae_core.config import ConfigError, RunConfig
from vae_core.errors import VaeStudioError
from vae_core.limits import MAX_TEXT_BYTES, read_text_bounded

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PRESET_SUFFIX = ".toml"
# Where an installed copy finds them: the wheel installs resources/presets as data files under
# share/vae-studio/presets of its prefix (pyproject.toml, [tool.setuptools.data-files]).
_INSTALLED = Path("share") / "vae-studio" / "presets"


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    config: RunConfig


def preset_folders() -> list[Path]:
    """The folders presets are read from, first found first: the source tree's, then an install's."""
    candidates = [
        Path(__file__).resolve().parents[1] / "resources" / "presets",
        Path(sysconfig.get_path("data")) / _INSTALLED,
        Path(site.getuserbase()) / _INSTALLED,
    ]
    return [folder for folder in candidates if folder.is_dir()]


def files_by_name(folders: list[Path], suffix: str) -> dict[str, Path]:
    """The files ending in `suffix` in `folders` by name (the stem), in name order; where two
    folders hold one name, the earlier folder's file wins."""
    files: dict[str, Path] = {}
    for folder in reversed(folders):
        files.update({path.stem: path for path in folder.glob("*" + suffix)})
    return dict(sorted(files.items()))


def _preset_files() -> dict[str, Path]:
    return files_by_name(preset_folders(), PRESET_SUFFIX)


def preset_names() -> list[str]:
    return list(_preset_files())


def read_preset(path: Path) -> Preset:
    """The preset in a file; one line naming the file and the problem when it is not one."""
    try:
        values = tomllib.loads(read_text_bounded(path, MAX_TEXT_BYTES, "preset"))
    except (VaeStudioError, tomllib.TOMLDecodeError) as error:
        raise VaeStudioError(
            f"preset {path}: cannot be read ({' '.join(str(error).split())})"
        ) from None
    except RecursionError:  # tomllib reads nested arrays by recursion
        raise VaeStudioError(f"preset {path}: cannot be read (values nested too deep)") from None
    description = values.pop("description", None)
    if not isinstance(description, str) or not description.strip() or "\n" in description:
        raise VaeStudioError(f"preset {path}: needs a one-line `description` string")
    try:
        config = RunConfig.from_dict(values)
    except ConfigError as error:
        raise VaeStudioError(f"preset {path}: {error}") from None
    return Preset(path.stem, description.strip(), config)


def read_presets() -> tuple[dict[str, Preset], list[str]]:
    """Every preset that reads, by name in name order (for a menu: name, description, config),
    and one line for each file that does not: a bad file is skipped, the others stay usable."""
    found, problems = {}, []
    for name, path in _preset_files().items():
        try:
            found[name] = read_preset(path)
        except VaeStudioError as error:
            problems.append(str(error))
    return found, problems


def load_preset(name: str) -> Preset:
    files = _preset_files()
    if name not in files:
        raise VaeStudioError(
            f"unknown preset '{name}' (choose from {', '.join(files) or 'none found'})"
        )
    return read_preset(files[name])
