"""One try of a model step: its batch, where it runs, what it measured.

Snakemake runs a model job again when it runs out of memory (``retries:`` in
the rules); each try halves the batch and, on CUDA, may take a lighter compute
type (see ``Attempt``). Both model steps, transcribe and translate, run their
model inside a ``ModelTry`` and record what it says in their output's ``Run``.
Under Snakemake both run through ``run_model_rule``, which hands them their
job (``ModelJob``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from autokr.batch import progress
from autokr.core.devices import Attempt, Placement, out_of_memory_as_one_line
from autokr.core.memory import GpuMemorySampler, step_memory
from autokr.core.records import Run
from autokr.core.results_layout import progress_file
from autokr.core.steps import run_rule

T = TypeVar("T")


@dataclass(frozen=True)
class ModelJob:
    """What the workflow gives a model step's job beside its config.

    ``threads`` as Snakemake granted them (None: the config's), ``attempt``
    Snakemake's try number, ``model_manifest`` what download_model (and
    convert_model) wrote for the model (None: load the configured model as it is),
    ``llm_manifest`` the one of translate's instruction model (backend llm).
    """

    threads: int | None = None
    attempt: int = 1
    model_manifest: str | None = None
    llm_manifest: str | None = None


def run_model_rule(snakemake, work: Callable[[ModelJob], None]) -> None:
    """Run a model step's rule: offline, reporting its progress, with its job."""
    # The models are on disk (download_model, convert_model): a job never
    # reaches the Hub and never converts.
    os.environ["HF_HUB_OFFLINE"] = "1"
    # How far it is, for the terminal (autokr.batch.progress).
    progress.start(progress_file(snakemake.rule, list(snakemake.wildcards)))
    llm = snakemake.input.get("llm")  # a list: the manifest, or none (NLLB alone)
    job = ModelJob(
        snakemake.threads,
        snakemake.resources.attempt,
        snakemake.input.model,
        llm[0] if llm else None,
    )
    run_rule(snakemake, lambda: work(job))


@dataclass
class ModelTry:
    """One try of a model job: which try, its batch, where it runs, and its GPU memory.

    ``configured_batch`` is the batch the config asks for; ``batch_size`` is
    this try's, halved on each retry. ``started`` is when the job started, so
    that the record's time includes loading the model and reading the input.
    """

    attempt: Attempt
    configured_batch: int
    started: float = field(default_factory=time.time)
    placement: Placement | None = None
    gpu: GpuMemorySampler | None = None

    @property
    def batch_size(self) -> int:
        """The batch of this try: the configured one, halved on each retry."""
        return self.attempt.batch_size(self.configured_batch)

    def lighter(self, options: T, *fields: str) -> T:
        """``options`` (a dataclass) with each of ``fields`` at this try's batch size."""
        return self.attempt.halve(options, *fields)

    def place(self, placement: Placement, lighter_type: bool = True) -> Placement:
        """Where this try runs: ``placement``, with a retry's lighter compute type on CUDA.

        ``lighter_type`` False keeps the compute type on every try (torch has
        nothing lighter than float16 to fall to).
        """
        if lighter_type:
            compute_type = self.attempt.compute_type(placement, self.configured_batch)
            placement = dataclasses.replace(placement, compute_type=compute_type)
        self.placement = placement
        return placement

    @contextlib.contextmanager
    def running(self, path: str) -> Iterator[GpuMemorySampler]:
        """Around loading and running the model: out of memory is one line, GPU memory sampled.

        ``path`` is the input the one-line error names.
        """
        placement = self._placed()
        with (
            out_of_memory_as_one_line(path, placement, self.batch_size, self.attempt),
            GpuMemorySampler(placement.device) as gpu,
        ):
            self.gpu = gpu
            yield gpu

    def run(self, finished: float | None = None) -> Run:
        """The output's ``Run``: where, when, on which host and card, which try, what memory.

        ``finished`` defaults to now.
        """
        placement = self._placed()
        return Run(
            placement.device,
            placement.compute_type,
            self.started,
            time.time() if finished is None else finished,
            socket.gethostname(),
            attempt=self.attempt.number,
            batch_size=self.batch_size,
            # The card(s) claim_gpu left this job; "" when it took none.
            gpu=os.environ.get("CUDA_VISIBLE_DEVICES", ""),
            **step_memory(self.gpu),
        )

    def _placed(self) -> Placement:
        if self.placement is None:  # a step that skipped place() is a bug
            raise AssertionError("ModelTry.place() was not called")
        return self.placement
