"""A run folder: what a run is (``config.json``), how it went (``log.jsonl``), its
checkpoint and ``done.json`` once finished; the same for fine-tuning, pretraining and
the exported pretrained control.

``<runs_dir>/<method>-<distortion>-q<quality>/`` holds

- ``config.json``: the run's identity, its digest, and one entry per session;
- ``log.jsonl``: one line per logged step;
- ``checkpoint.pth.tar`` (``checkpoint.py``), rewritten atomically as the run goes;
- ``done.json``: the run finished, with this identity and budget.

A finished run with the same identity and budget is not redone; a folder that holds
another run is refused (``RunConfigError``, naming the keys that differ).
"""
from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from ..files import read_json, write_json, write_text
from .checkpoint import CHECKPOINT_NAME
from .runconfig import BUDGET_KEYS

CONFIG_NAME = "config.json"
LOG_NAME = "log.jsonl"
DONE_NAME = "done.json"


class RunConfigError(ValueError):
    """A run folder holds a run with another config; names the folder and the differences."""


def _now() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


class RunFolder:
    """The files of one run, read and written in one place."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT_NAME

    @property
    def log_path(self) -> Path:
        return self.path / LOG_NAME

    def is_finished(self, identity: dict[str, Any], digest: str) -> bool:
        """True if the folder holds this run finished with this budget (another budget
        resumes from its checkpoint); RunConfigError if it holds another run."""
        done_path = self.path / DONE_NAME
        if not done_path.is_file():
            return False
        done = read_json(done_path)
        if done.get("config_digest") != digest:
            raise RunConfigError(f"{self.path}: holds a finished run with another config "
                                 f"({self.diff(identity)}); use another run folder or overwrite=True")
        same_budget = all(done.get("config", {}).get(k) == identity.get(k) for k in BUDGET_KEYS)
        return same_budget and self.checkpoint.is_file()

    def diff(self, identity: dict[str, Any]) -> str:
        """The keys where ``identity`` differs from the run the folder holds."""
        try:
            old = read_json(self.path / CONFIG_NAME)["config"]
        except (OSError, KeyError, ValueError):
            return "config.json unreadable"
        keys = sorted(k for k in set(old) | set(identity) if old.get(k) != identity.get(k))
        return ", ".join(f"{k}: {old.get(k)!r} -> {identity.get(k)!r}" for k in keys) or "same keys, other digest"

    def clear(self) -> None:
        """Forget the run (``overwrite``): done.json, checkpoint, log and config."""
        for name in (DONE_NAME, CHECKPOINT_NAME, LOG_NAME, CONFIG_NAME):
            (self.path / name).unlink(missing_ok=True)

    def write_config(self, identity: dict[str, Any], meta: dict[str, Any], step: int, session: dict[str, Any],
                     steps_per_epoch: int | None) -> None:
        """config.json: the identity and one entry per session (``session``: device, world
        size and speed settings, which change no result beyond rounding)."""
        path = self.path / CONFIG_NAME
        sessions = []
        if path.is_file():
            try:
                sessions = read_json(path).get("sessions", [])
            except ValueError:
                sessions = []
        how = {k: v for k, v in session.items() if k not in ("device", "world_size")}
        sessions.append({"started": _now(), "start_step": step, "device": session["device"],
                         "world_size": session["world_size"], "git_commit": meta.get("git_commit"),
                         "host": os.uname().nodename if hasattr(os, "uname") else None, **how})
        write_json(path, {"run": self.path.name, "method": meta.get("method"), "config": identity,
                          "config_digest": meta["config_digest"],
                          "steps_per_epoch": steps_per_epoch, "total_steps": meta.get("total_steps"),
                          "init": meta["init"], "labels": meta["labels"], "versions": meta["versions"],
                          "sessions": sessions})

    def write_done(self, method: str, identity: dict[str, Any], digest: str, steps: int,
                   **more: Any) -> None:
        """done.json: the run finished with this identity and budget."""
        write_json(self.path / DONE_NAME, {"run": self.path.name, "method": method, "config_digest": digest,
                                           "config": identity, "steps": steps, **more,
                                           "checkpoint": CHECKPOINT_NAME, "finished": _now()})

    def truncate_log(self, step: int) -> None:
        """Drop log lines past the checkpoint we resume from (and any torn last line)."""
        if not self.log_path.is_file():
            return
        keep = []
        for line in self.log_path.read_text().splitlines():
            try:
                if json.loads(line)["step"] <= step:
                    keep.append(line)
            except (ValueError, KeyError, TypeError):
                continue
        write_text(self.log_path, "".join(f"{line}\n" for line in keep))

    def last_record(self) -> dict[str, Any]:
        """The last line of log.jsonl ({} when there is none)."""
        lines = self.log_path.read_text().strip().splitlines() if self.log_path.is_file() else []
        return json.loads(lines[-1]) if lines else {}

    def read_records(self) -> list[dict[str, Any]]:
        """Every line of log.jsonl ([] when there is none)."""
        if not self.log_path.is_file():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.strip()]

    def read_log(self) -> pd.DataFrame:
        """log.jsonl with the run's method, family, quality and seed as columns (from config.json)."""
        raw = read_json(self.path / CONFIG_NAME)
        cfg = raw.get("config", raw)
        df = pd.read_json(self.log_path, lines=True)
        return df.assign(method=raw.get("method") or cfg.get("loss") or cfg.get("method"), family=cfg.get("metric"),
                         quality=cfg.get("quality"), seed=cfg.get("seed", 0))


def read_logs(folders: list[Path]) -> pd.DataFrame:
    """The logs of several runs stacked (``RunFolder.read_log``); empty logs are skipped."""
    frames = [df for df in (RunFolder(f).read_log() for f in folders) if not df.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
