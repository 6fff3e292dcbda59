"""Scoring autokr's subtitles against reference subtitles: chrF, cue timing, what made them.

chrF (Popović 2015) is computed here as sacrebleu's ``CHRF()`` computes it with
its defaults (chrF2, ``nc:6, nw:0, space:no, eff:yes``), so autokr needs no new package:
whitespace is removed from each text and its character n-grams of orders 1 to 6
counted; per order the statistics are the hypothesis' n-grams (0 where the
reference has none of that order), the reference's, and the matches (per n-gram
the smaller count). A set's statistics are its documents' summed order by order
(corpus level, not a mean of scores). Precision and recall of an order are matches
over hypothesis and over reference n-grams, averaged over the orders both texts
have; chrF = 100 × (1 + β²)·P·R / (β²·P + R) with β = 2, so recall counts twice
as much as precision: 100 for identical texts, 0 for texts with no character in
common. Each video is one document, its cues' texts joined; ``Timing`` compares
the cues themselves.
"""

from __future__ import annotations

import os
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass
from pathlib import Path

from autokr.core import languages
from autokr.core import results_layout as layout
from autokr.core.errors import AutokrError, ConfigError, RecordError, SubtitleError
from autokr.core.record_files import write_text_atomic
from autokr.core.records import TimedText, read_translation
from autokr.text.subtitle_formats import read_subtitles

#: sacrebleu's defaults: character n-grams of orders 1..6, recall weighted by β = 2.
CHAR_ORDER = 6
BETA = 2
#: What ``scripts/evaluate.py`` writes, under the results folder.
EVALUATION = f"{layout.RESULTS}/evaluation.md"
EVALUATIONS = f"{layout.RESULTS}/evaluations.tsv"
#: The columns of evaluations.tsv, one row a run.
HISTORY_COLUMNS = tuple(
    "date backend model lang videos chrf timing_recall timing_precision "
    "median_start_difference_s reference".split()
)
REFERENCE_SUFFIXES = (".srt", ".vtt")


class ReferenceFolderError(AutokrError):
    """The reference folder is missing or holds no reference subtitles."""


@dataclass(frozen=True)
class ChrfStatistics:
    """Per n-gram order (1 first): hypothesis n-grams, reference n-grams, matches."""

    orders: tuple[tuple[int, int, int], ...] = ((0, 0, 0),) * CHAR_ORDER

    def __add__(self, other: ChrfStatistics) -> ChrfStatistics:
        summed = zip(self.orders, other.orders, strict=True)
        return ChrfStatistics(tuple(tuple(map(sum, zip(a, b, strict=True))) for a, b in summed))

    @property
    def score(self) -> float:
        """chrF (0 to 100) of these statistics."""
        return chrf_score(self)


def _char_ngrams(text: str, n: int) -> Counter[str]:
    return Counter(text[i : i + n] for i in range(len(text) - n + 1))


def chrf_statistics(hypothesis: str, reference: str, order: int = CHAR_ORDER) -> ChrfStatistics:
    """The character n-gram statistics of one hypothesis text against its reference."""
    hypothesis, reference = "".join(hypothesis.split()), "".join(reference.split())
    rows = []
    for n in range(1, order + 1):
        hyp, ref = _char_ngrams(hypothesis, n), _char_ngrams(reference, n)
        matches = sum(min(count, ref[gram]) for gram, count in hyp.items() if gram in ref)
        # As sacrebleu: a hypothesis n-gram counts only where the reference has that order.
        rows.append((hyp.total() if ref else 0, ref.total(), matches))
    return ChrfStatistics(tuple(rows))


def chrf_score(stats: ChrfStatistics, beta: float = BETA) -> float:
    """chrF from (summed) statistics: F-beta of P and R averaged over the orders both have."""
    effective = [(match / hyp, match / ref) for hyp, ref, match in stats.orders if hyp and ref]
    if not effective:
        return 0.0
    precision = sum(p for p, _ in effective) / len(effective)
    recall = sum(r for _, r in effective) / len(effective)
    if precision + recall == 0:
        return 0.0
    factor = beta**2
    return 100 * (1 + factor) * precision * recall / (factor * precision + recall)


def chrf(hypothesis: str, reference: str) -> float:
    """chrF (0 to 100) of one hypothesis text against one reference text."""
    return chrf_score(chrf_statistics(hypothesis, reference))


@dataclass(frozen=True)
class Timing:
    """How autokr's cues fall on the reference's, in seconds (each side's cues merged).

    ``recall``: the share of the reference's subtitle time that autokr's cues
    cover; ``precision``: the share of autokr's on reference cues;
    ``start_differences``: for each reference cue an autokr cue overlaps, how far
    apart its start and that of the autokr cue overlapping it most are.
    """

    reference_seconds: float = 0.0
    autokr_seconds: float = 0.0
    overlap_seconds: float = 0.0
    start_differences: tuple[float, ...] = ()

    def __add__(self, other: Timing) -> Timing:
        # Field by field: the seconds summed, the differences of both kept.
        return Timing(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))

    @property
    def recall(self) -> float | None:
        return self.overlap_seconds / self.reference_seconds if self.reference_seconds else None

    @property
    def precision(self) -> float | None:
        return self.overlap_seconds / self.autokr_seconds if self.autokr_seconds else None

    @property
    def median_start_difference(self) -> float | None:
        return statistics.median(self.start_differences) if self.start_differences else None


def merged_spans(cues: Iterable[TimedText]) -> list[tuple[float, float]]:
    """The stretches of time the cues show something: overlapping or touching cues merged."""
    spans: list[tuple[float, float]] = []
    for start, end in sorted((c.start, c.end) for c in cues if c.end > c.start):
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))
    return spans


def overlap_seconds(a: Sequence[tuple[float, float]], b: Sequence[tuple[float, float]]) -> float:
    """Seconds two sorted lists of disjoint spans have in common."""
    total, i, j = 0.0, 0, 0
    while i < len(a) and j < len(b):
        total += max(0.0, min(a[i][1], b[j][1]) - max(a[i][0], b[j][0]))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def start_differences(reference: Sequence[TimedText], autokr: Sequence[TimedText]) -> list[float]:
    """For each reference cue an autokr cue overlaps: how far apart their starts are."""
    differences = []
    for ref in reference:
        best, most = None, 0.0
        for cue in autokr:
            shared = min(ref.end, cue.end) - max(ref.start, cue.start)
            if shared > most:
                best, most = cue, shared
        if best is not None:
            differences.append(round(abs(ref.start - best.start), 3))
    return differences


def cue_timing(reference: Sequence[TimedText], autokr: Sequence[TimedText]) -> Timing:
    """The timing figures of autokr's cues against the reference's."""
    ref_spans, autokr_spans = merged_spans(reference), merged_spans(autokr)
    return Timing(
        sum(end - start for start, end in ref_spans),
        sum(end - start for start, end in autokr_spans),
        overlap_seconds(ref_spans, autokr_spans),
        tuple(start_differences(reference, autokr)),
    )


@dataclass(frozen=True)
class VideoScore:
    """One video's figures, and what translated it (``""`` where no record says)."""

    video: str
    chrf: ChrfStatistics
    timing: Timing
    reference_cues: int
    autokr_cues: int
    backend: str = ""
    model: str = ""


def score_video(
    video: str, reference: Sequence[TimedText], autokr: Sequence[TimedText], made_by=("", "")
) -> VideoScore:
    """Score one video: each side's cue texts joined as one document, and their timing."""
    stats = chrf_statistics(" ".join(c.text for c in autokr), " ".join(c.text for c in reference))
    timing = cue_timing(reference, autokr)
    return VideoScore(video, stats, timing, len(reference), len(autokr), *made_by)


def read_cues(path: Path, empty_ok: bool = False) -> tuple[TimedText, ...]:
    """The cues of an SRT or WebVTT file, read as autokr reads subtitles (SubtitleError
    naming the file when it cannot be); ``empty_ok``: an empty file has no cues."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SubtitleError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if empty_ok and not data.strip():
        return ()
    return read_subtitles(data, str(path)).cues


def translated_by(results: str | os.PathLike, video: str, lang: str) -> tuple[str, str]:
    """The translate backend and model that made a video's subtitles, from its
    ``translation.{lang}.json`` settings; ``("", "")`` where there is no readable one."""
    path = layout.result_path(layout.TRANSLATION, results, video=video, lang=lang)
    try:
        settings = read_translation(path).settings
    except RecordError:
        return "", ""
    llm = settings.get("llm")
    if not isinstance(llm, dict):  # NLLB translated, with translate.backend
        return str(settings.get("backend", "")), str(settings.get("model", ""))
    # An instruction model translated (translate.backend llm or openai); settings'
    # own backend and model are then NLLB's, the per-sentence fallback.
    return str(llm.get("backend", "")), str(llm.get("model", ""))


def autokr_subtitles(results: str | os.PathLike, video: str, lang: str) -> Path | None:
    """A video's subtitle file in ``lang`` under the results folder (SRT, else WebVTT)."""
    prefix = layout.result_path(layout.SUBTITLE_PREFIX, results, video=video)
    paths = (Path(f"{prefix}.{lang}{suffix}") for suffix in REFERENCE_SUFFIXES)
    return next((path for path in paths if path.is_file()), None)


@dataclass(frozen=True)
class Reference:
    """A reference file, the video it is for, and how sure its name is of its language."""

    path: Path
    video: str
    rank: int  # lower first: named with the language, then SRT before WebVTT


def _language_tags(code: str) -> frozenset[str]:
    """The names a file may give language ``code`` (``ko``, ``kor``, ``korean``), or none."""
    try:
        return languages.subtitle_tags(code) | {code.lower()}
    except ConfigError:
        return frozenset()


def reference_for(path: Path, folder: Path, lang: str, results) -> Reference | str:
    """The video a reference file is for, or why it is passed over: ``{video}.{lang}.srt``
    names its language, ``{video}.srt`` is taken to be in ``lang``, ``ep01.ja.srt`` is not."""
    stem = path.relative_to(folder).with_suffix("").as_posix()
    suffix_rank = REFERENCE_SUFFIXES.index(path.suffix.lower())
    rest, _, tag = stem.rpartition(".")
    if rest and tag.lower() in _language_tags(lang) | {lang.lower()}:
        return Reference(path, rest, suffix_rank)
    if rest and autokr_subtitles(results, stem, lang) is None and _language_tags(tag):
        return f"{path}: in another language ({tag}), not {lang}: passed over"
    return Reference(path, stem, 2 + suffix_rank)


def find_references(
    folder: str | os.PathLike, lang: str, results: str | os.PathLike
) -> tuple[list[Reference], list[str]]:
    """One reference file per video (the best named), and a line for each file passed over."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ReferenceFolderError(f"{folder}: no such folder")
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in REFERENCE_SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    if not files:
        raise ReferenceFolderError(
            f"{folder}: no reference subtitles in it ({{video}}.{lang}.srt, "
            f"{{video}}.{lang}.vtt, {{video}}.srt or {{video}}.vtt)"
        )
    found = [reference_for(path, folder, lang, results) for path in files]
    passed_over = [note for note in found if isinstance(note, str)]
    chosen: dict[str, Reference] = {}
    for ref in sorted((r for r in found if isinstance(r, Reference)), key=lambda r: r.rank):
        if chosen.setdefault(ref.video, ref) is not ref:
            passed_over.append(f"{ref.path}: another reference for {ref.video}: passed over")
    return sorted(chosen.values(), key=lambda r: r.video), passed_over


@dataclass(frozen=True)
class Evaluation:
    """The scored videos; notes on the files not scored (``unmatched``: no such video,
    passed over; ``errors``: could not be read), one line each."""

    folder: str
    lang: str
    scores: tuple[VideoScore, ...] = ()
    unmatched: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def total(self) -> VideoScore:
        """The whole set: statistics, times and cues summed over the videos."""
        scores = self.scores
        stats = sum((s.chrf for s in scores), ChrfStatistics())
        timing = sum((s.timing for s in scores), Timing())
        refs, cues = sum(s.reference_cues for s in scores), sum(s.autokr_cues for s in scores)
        return VideoScore("all", stats, timing, refs, cues)

    @property
    def made_by(self) -> tuple[str, str]:
        """The backend(s) and model(s) of the scored videos, each distinct one once."""
        backends = dict.fromkeys(s.backend or "unknown" for s in self.scores)
        models = dict.fromkeys(s.model or "unknown" for s in self.scores)
        return ", ".join(backends), ", ".join(models)


def evaluate_folder(
    folder: str | os.PathLike, results: str | os.PathLike = layout.RESULTS_DIR, lang: str = "ko"
) -> Evaluation:
    """Score each reference file in ``folder`` against autokr's subtitles of its video."""
    references, unmatched = find_references(folder, lang, results)
    scores, errors = [], []
    for ref in references:
        subtitles = autokr_subtitles(results, ref.video, lang)
        if subtitles is None:
            prefix = layout.result_path(layout.SUBTITLE_PREFIX, results, video=ref.video)
            unmatched.append(f"{ref.path}: no matching video (no {prefix}.{lang}.srt)")
            continue
        try:
            reference_cues = read_cues(ref.path)
            autokr_cues = read_cues(subtitles, empty_ok=True)
        except SubtitleError as exc:
            errors.append(str(exc))
            continue
        made_by = translated_by(results, ref.video, lang)
        scores.append(score_video(ref.video, reference_cues, autokr_cues, made_by))
    return Evaluation(str(folder), lang, tuple(scores), tuple(unmatched), tuple(errors))


def _row(score: VideoScore, name: str) -> str:
    t = score.timing
    shares = ["-" if v is None else f"{100 * v:.0f}%" for v in (t.recall, t.precision)]
    median = "-" if t.median_start_difference is None else f"{t.median_start_difference:.2f} s"
    cells = [name, f"{score.chrf.score:.1f}", *shares, median]
    return "| " + " | ".join(cells) + f" | {score.reference_cues} / {score.autokr_cues} |"


def evaluation_markdown(evaluation: Evaluation, when: str) -> str:
    """The evaluation as a Markdown page: the table, the total, what was not scored."""
    backend, model = evaluation.made_by
    lines = [
        "# Evaluation against reference subtitles",
        "",
        f"{when}; references: `{evaluation.folder}` ({evaluation.lang}); "
        f"translated by: {backend} `{model}`",
        "",
        "| video | chrF | timing recall | timing precision | median start difference "
        "| cues (reference / autokr) |\n| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [_row(s, s.video.replace("|", "\\|")) for s in evaluation.scores]
    count = len(evaluation.scores)
    lines.append(_row(evaluation.total, f"**all ({count} video{'s' * (count != 1)})**"))
    if evaluation.unmatched or evaluation.errors:
        lines += ["", "Not scored:", ""]
        lines += [f"- {note}" for note in (*evaluation.errors, *evaluation.unmatched)]
    lines += [
        "",
        "chrF as sacrebleu computes it (100: the reference's very text); what each column "
        "means: docs/choosing.md, Measure on your own videos.",
    ]
    return "\n".join(lines) + "\n"


def history_row(evaluation: Evaluation, when: str) -> list[str]:
    """The run's row of evaluations.tsv (HISTORY_COLUMNS); a figure with no value is empty."""
    total, timing = evaluation.total, evaluation.total.timing
    figures = [(timing.recall, 4), (timing.precision, 4), (timing.median_start_difference, 3)]
    cells = [when, *evaluation.made_by, evaluation.lang, str(len(evaluation.scores))]
    cells += [f"{total.chrf.score:.2f}"] + ["" if v is None else f"{v:.{d}f}" for v, d in figures]
    return [" ".join(cell.split()) for cell in [*cells, evaluation.folder]]


def append_history(evaluation: Evaluation, path: str | os.PathLike, when: str) -> None:
    """Add the run's row to ``path`` (header first when it is new), atomically."""
    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if text and not text.endswith("\n"):
        text += "\n"
    text = text or "\t".join(HISTORY_COLUMNS) + "\n"
    write_text_atomic(path, text + "\t".join(history_row(evaluation, when)) + "\n")
