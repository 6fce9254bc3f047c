"""Plug-ins: detectors that live outside this package.

A plug-in is a `.py` file, a folder (a package with `__init__.py`, or a folder of `.py` files) or an
importable module whose import registers detectors with `@register`. Installed packages declare
theirs in the entry-point group `tsadbench.detectors` (each entry point names a module or a
detector class), loaded the first time a model name is not found.

Plug-ins travel with the job: `PluginBundle` holds the source files of every plug-in given on the
command line (never data), goes to the trials through Ray's object store like the dataset, and is
unpacked and imported by each worker before it looks the model up, on any node of any cluster.
A plug-in's search space is `<model>.yaml` beside its file (`plugin_folder`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.metadata
import importlib.util
import re
import sys
import tempfile
import traceback
import types
from pathlib import Path
from typing import Iterable

from .base import AnomalyDetector
from .registry import MODELS, register

ENTRY_POINT_GROUP = "tsadbench.detectors"
FILE_PACKAGE = "tsadbench_plugins"
"""Single-file plug-ins are imported as `tsadbench_plugins.<stem>`, on the driver and the workers."""
SHIPPED_SUFFIXES = (".py",)
MAX_BUNDLE_BYTES = 20 * 2**20
_FOLDERS: dict[str, Path] = {}
_INSTALLED_LOADED = False


class PluginError(ValueError):
    """A plug-in that cannot be used; the message names the file (or module) and the fix."""


@dataclasses.dataclass(frozen=True)
class PluginBundle:
    """The plug-ins' source files (relative path -> bytes) and the modules a worker imports."""

    files: tuple[tuple[str, bytes], ...] = ()
    modules: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    @property
    def digest(self) -> str:
        """sha256 of the files and module names (names the unpacked folder on a worker)."""
        hashed = hashlib.sha256()
        for name, content in self.files:
            hashed.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
        hashed.update("\0".join(self.modules).encode())
        return hashed.hexdigest()

    def describe(self) -> list[dict[str, str]]:
        """What the experiment metadata records: each plug-in's source and module, and the digest."""
        return [{"source": source, "module": module, "bundle_sha256": self.digest}
                for source, module in zip(self.sources, self.modules)]

    def install(self) -> None:
        """Make the plug-ins' detectors registered in this process (a Ray worker): unpack the files
        once per bundle into the temporary folder, put it on the import path, import the modules."""
        if not self.modules or all(module in sys.modules for module in self.modules):
            return
        folder = Path(tempfile.gettempdir()) / f"tsadbench-plugins-{self.digest[:16]}"
        if not folder.is_dir():
            staging = Path(tempfile.mkdtemp(prefix="tsadbench-plugins-staging-"))
            for name, content in self.files:
                (staging / name).parent.mkdir(parents=True, exist_ok=True)
                (staging / name).write_bytes(content)
            try:
                staging.rename(folder)
            except OSError:  # another worker of this node unpacked the same bundle first
                pass
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
        package = sys.modules.get(FILE_PACKAGE)  # the driver's own, when a driver installs a bundle
        if package is not None and str(folder / FILE_PACKAGE) not in package.__path__:
            package.__path__.append(str(folder / FILE_PACKAGE))
        for module in self.modules:
            importlib.import_module(module)


@dataclasses.dataclass(frozen=True)
class Plugin:
    """One loaded plug-in: what the user gave, its module, its folder and the detectors it added."""

    spec: str
    module: str
    folder: Path
    models: tuple[str, ...]
    files: tuple[tuple[str, Path], ...]


def plugin_folder(model: str) -> Path | None:
    """The folder of the plug-in that registered `model` (where its YAML may lie), or None for a
    built-in detector."""
    return _FOLDERS.get(model)


def _module_name(stem: str) -> str:
    name = re.sub(r"\W", "_", stem)
    return f"_{name}" if name[:1].isdigit() else name


def _ensure_file_package() -> None:
    if FILE_PACKAGE not in sys.modules:
        package = types.ModuleType(FILE_PACKAGE)
        package.__path__ = []
        sys.modules[FILE_PACKAGE] = package


def _import(module: str, location: Path, where: str, package_dir: Path | None = None) -> None:
    """Import `location` as `module`, turning any failure into a PluginError naming `where`."""
    spec = importlib.util.spec_from_file_location(
        module, location, submodule_search_locations=None if package_dir is None else [str(package_dir)])
    imported = importlib.util.module_from_spec(spec)
    sys.modules[module] = imported
    try:
        spec.loader.exec_module(imported)
    except Exception as error:  # noqa: BLE001  (any error of user code is reported, with its line)
        del sys.modules[module]
        frame = next((f for f in reversed(traceback.extract_tb(error.__traceback__))
                      if Path(f.filename).resolve().is_relative_to(location.parent.resolve())), None)
        lineno = error.lineno if isinstance(error, SyntaxError) else frame.lineno if frame else None
        line = f", line {lineno}" if lineno else ""
        raise PluginError(f"plug-in {where}{line}: importing it raised {type(error).__name__}: {error}; "
                          "fix the plug-in (it must import on its own: python " + str(location) + ")") from error


def _registered_by(module: str, before: set[str], where: str) -> tuple[str, ...]:
    """The detectors the import of `module` registered (or, imported before, those defined in it)."""
    added = tuple(sorted(set(MODELS) - before)) or tuple(
        name for name, cls in MODELS.items() if cls.__module__ == module or cls.__module__.startswith(module + "."))
    if not added:
        raise PluginError(f"plug-in {where} registers no detector: decorate its AnomalyDetector subclass "
                          "with @register (from tsadbench.zoo import register)")
    return added


def _load_file(path: Path, spec: str) -> Plugin:
    module = f"{FILE_PACKAGE}.{_module_name(path.stem)}"
    if module in sys.modules:
        loaded = sys.modules[module]
        if Path(loaded.__file__).resolve() != path.resolve():
            raise PluginError(f"plug-in {path}: another plug-in file named {path.name} ({loaded.__file__}) is "
                              "already loaded; rename one of them")
        return Plugin(spec, module, path.parent, _registered_by(module, set(MODELS), str(path)),
                      ((f"{FILE_PACKAGE}/{module.split('.')[1]}.py", path),))
    _ensure_file_package()
    before = set(MODELS)
    _import(module, path, str(path))
    files = ((f"{FILE_PACKAGE}/{module.split('.')[1]}.py", path),)
    return Plugin(spec, module, path.parent, _registered_by(module, before, str(path)), files)


def _package_files(folder: Path, top: str) -> tuple[tuple[str, Path], ...]:
    return tuple((f"{top}/{source.relative_to(folder).as_posix()}", source)
                 for source in sorted(folder.rglob("*"))
                 if source.is_file() and source.suffix in SHIPPED_SUFFIXES and "__pycache__" not in source.parts)


def _load_package(folder: Path, spec: str) -> Plugin:
    module = _module_name(folder.name)
    before = set(MODELS)
    if module not in sys.modules:
        _import(module, folder / "__init__.py", str(folder), package_dir=folder)
    return Plugin(spec, module, folder, _registered_by(module, before, str(folder)), _package_files(folder, module))


def _load_module(name: str) -> Plugin:
    before = set(MODELS)
    try:
        imported = importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name and name.startswith(error.name):
            raise PluginError(f"plug-in {name!r}: no such .py file, folder or importable module; give the path of "
                              "the detector's .py file or folder, or install the module") from error
        raise PluginError(f"plug-in {name!r}: importing it raised {error}; install what it needs") from error
    except Exception as error:  # noqa: BLE001
        raise PluginError(f"plug-in {name!r}: importing it raised {type(error).__name__}: {error}; "
                          "fix the plug-in") from error
    location = Path(imported.__file__ or ".").resolve()
    top = name.partition(".")[0]
    top_file = getattr(sys.modules[top], "__file__", None)
    shipped: tuple[tuple[str, Path], ...] = ()
    if top_file and not {"site-packages", "dist-packages"} & set(Path(top_file).parts):
        # A module of a source tree travels with the job; an installed one is installed on every node.
        is_package = hasattr(sys.modules[top], "__path__")
        shipped = _package_files(Path(top_file).parent, top) if is_package else ((f"{top}.py", Path(top_file)),)
    return Plugin(name, name, location.parent, _registered_by(name, before, name), shipped)


def load_plugin(spec: str) -> list[Plugin]:
    """Import the plug-in `spec` (a .py file, a folder or a module name) and record its detectors."""
    path = Path(spec).expanduser()
    if path.suffix == ".py" or path.is_file():
        if not path.is_file():
            raise PluginError(f"plug-in {path}: no such file; give the path of the detector's .py file")
        if path.suffix != ".py":
            raise PluginError(f"plug-in {path}: not a .py file; give a Python file, a folder or a module name")
        plugins = [_load_file(path.resolve(), spec)]
    elif path.is_dir():
        folder = path.resolve()
        if (folder / "__init__.py").is_file():
            plugins = [_load_package(folder, spec)]
        else:
            files = sorted(p for p in folder.glob("*.py") if not p.name.startswith("_"))
            if not files:
                raise PluginError(f"plug-in folder {folder} holds no .py file; put the detector's file there")
            plugins = [_load_file(file, spec) for file in files]
    elif "/" in spec or "\\" in spec:
        raise PluginError(f"plug-in {path}: no such file or folder; check the path")
    else:
        plugins = [_load_module(spec)]
    for plugin in plugins:
        for model in plugin.models:
            _FOLDERS[model] = plugin.folder
    return plugins


def load_plugins(specs: Iterable[str]) -> PluginBundle:
    """Load every plug-in and bundle their source files for the workers."""
    plugins: list[Plugin] = []
    for spec in dict.fromkeys(specs):
        plugins.extend(p for p in load_plugin(spec) if p.module not in {q.module for q in plugins})
    files: dict[str, bytes] = {}
    for plugin in plugins:
        for name, path in plugin.files:
            files[name] = path.read_bytes()
    size = sum(len(content) for content in files.values())
    if size > MAX_BUNDLE_BYTES:
        raise PluginError(f"plug-ins {', '.join(p.spec for p in plugins)}: {size / 2**20:.0f} MiB of Python files "
                          f"(limit {MAX_BUNDLE_BYTES // 2**20} MiB); keep data and weights out of the plug-in folder")
    if any(name.startswith(FILE_PACKAGE + "/") for name in files):
        files[f"{FILE_PACKAGE}/__init__.py"] = b""
    return PluginBundle(tuple(sorted(files.items())), tuple(p.module for p in plugins),
                        tuple(str(p.files[0][1]) if p.files else p.spec for p in plugins))


def load_installed_plugins() -> None:
    """Load the entry points of the group `tsadbench.detectors` (once per process)."""
    global _INSTALLED_LOADED
    if _INSTALLED_LOADED:
        return
    _INSTALLED_LOADED = True
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        before = set(MODELS)
        try:
            loaded = entry_point.load()
        except Exception as error:  # noqa: BLE001
            raise PluginError(f"installed plug-in {entry_point.name} ({entry_point.value}, entry point group "
                              f"{ENTRY_POINT_GROUP}): loading it raised {type(error).__name__}: {error}; fix or "
                              "uninstall that package") from error
        if isinstance(loaded, type) and issubclass(loaded, AnomalyDetector) and loaded.name not in MODELS:
            register(loaded)
        module = sys.modules.get(getattr(loaded, "__module__", None) or entry_point.module)
        folder = Path(module.__file__).resolve().parent if module is not None and module.__file__ else None
        for model in set(MODELS) - before:
            if folder is not None:
                _FOLDERS[model] = folder
