"""Guards against lines Whisper invents: over silence, from its training data, in loops.

Every decision is returned as a ``Decision`` so the QA report can show it;
nothing is dropped silently.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from dataclasses import dataclass

from autokr.core.defaults import schema_default
from autokr.core.records import Decision, Segment

#: Lines Whisper is known to produce over silence, music and credits (it learnt
#: them from subtitled videos). Compared without spaces and punctuation.
SILENCE_PHRASES: tuple[str, ...] = (
    "ご視聴ありがとうございました",
    "ご視聴ありがとうございます",
    "最後までご視聴いただきありがとうございました",
    "最後までご視聴ありがとうございました",
    "チャンネル登録よろしくお願いします",
    "チャンネル登録お願いします",
    "おやすみなさい",
    "字幕は視聴者によって作成されました",
    "thanksforwatching",
    "thankyouforwatching",
    "subtitlesbytheamaraorgcommunity",
    "pleasesubscribe",
    "시청해주셔서감사합니다",
    "구독과좋아요부탁드립니다",
    "字幕由amaraorg社区提供",
    "请不吝点赞订阅转发打赏支持明镜与点点栏目",
)


@dataclass(frozen=True)
class GuardOptions:
    """Thresholds of the hallucination guards.

    no_speech_threshold / log_prob_threshold: a segment the decoder thinks is
        silence (no-speech probability above the first) and is unsure of
        (average log-probability below the second) is dropped.
    doubt_no_speech / doubt_log_prob / doubt_word_probability: a known silence
        phrase is dropped when any of these signals doubts it, else only flagged.
    repeat_gap: a line repeated with at most this many seconds between is a
        decoding loop and collapses into one; further apart it is real speech.
    """

    no_speech_threshold: float = schema_default("transcribe.no_speech_threshold")
    log_prob_threshold: float = schema_default("transcribe.log_prob_threshold")
    doubt_no_speech: float = 0.3
    doubt_log_prob: float = -0.6
    doubt_word_probability: float = 0.5
    repeat_gap: float = 1.0


_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    """Text as compared: NFKC, lower case, no spaces or punctuation."""
    return _NON_WORD.sub("", unicodedata.normalize("NFKC", text).lower())


def is_silence_phrase(text: str) -> bool:
    """True when the whole segment is one of Whisper's known silence lines."""
    squashed = normalise(text)
    return bool(squashed) and squashed in {normalise(p) for p in SILENCE_PHRASES}


def _doubts(seg: Segment, o: GuardOptions) -> list[str]:
    doubts = []
    if seg.no_speech_prob > o.doubt_no_speech:
        doubts.append(f"no_speech_prob {seg.no_speech_prob:.2f}")
    if seg.avg_logprob < o.doubt_log_prob:
        doubts.append(f"avg_logprob {seg.avg_logprob:.2f}")
    if seg.words:
        mean = sum(w.probability for w in seg.words) / len(seg.words)
        if mean < o.doubt_word_probability:
            doubts.append(f"word probability {mean:.2f}")
    return doubts


def screen_segments(
    segments: list[Segment] | tuple[Segment, ...], options: GuardOptions | None = None
) -> tuple[list[Segment], list[Decision]]:
    """Drop invented segments, flag doubtful ones, collapse back-to-back repeats."""
    o = options or GuardOptions()
    kept: list[Segment] = []
    decisions: list[Decision] = []
    for seg in segments:
        if not seg.text.strip():
            continue
        if seg.no_speech_prob > o.no_speech_threshold and seg.avg_logprob < o.log_prob_threshold:
            decisions.append(
                Decision.of(seg, "dropped", f"no speech (no_speech_prob {seg.no_speech_prob:.2f}, "
                            f"avg_logprob {seg.avg_logprob:.2f})")
            )  # fmt: skip
            continue
        if is_silence_phrase(seg.text):
            doubts = _doubts(seg, o)
            if doubts:
                reason = f"known silence phrase, doubted by {', '.join(doubts)}"
                decisions.append(Decision.of(seg, "dropped", reason))
                continue
            decisions.append(Decision.of(seg, "flagged", "known silence phrase, decoder confident"))
            seg = dataclasses.replace(seg, flags=(*seg.flags, "silence_phrase"))
        if (
            kept
            and normalise(kept[-1].text) == normalise(seg.text)
            and seg.start - kept[-1].end <= o.repeat_gap
        ):
            first = kept[-1]
            decisions.append(
                Decision.of(seg, "collapsed", f"repeats the line at {first.start:.2f} s")
            )
            kept[-1] = dataclasses.replace(
                first, end=max(first.end, seg.end), words=first.words + seg.words
            )
            continue
        kept.append(seg)
    return kept, decisions
