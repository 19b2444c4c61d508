"""`amphora-export inspect`: a readable summary of a package's manifest and parity report."""

from __future__ import annotations

from pathlib import Path


def _dims(entry: dict) -> str:
    return f"{entry['name']} {entry.get('dtype', '?')} [{', '.join(map(str, entry['dims']))}]"


def _number(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _parity_line(name: str, entry: dict) -> str:
    if "verified" in entry:
        ops = len(entry.get("op_types", []))
        if "chunk_frames" in entry:  # a vocoder's: the chunk of fixed-shape deployments
            length = f"chunk {entry['chunk_frames']} frames"
        else:  # an acoustic model's flexible token (or frame) axes
            length = ", ".join(f"{axis} {lower}-{upper}" for axis, (lower, upper)
                               in entry.get("time_ranges", {}).items())
            length += f" {entry.get('length_unit', 'tokens')}"
        return (f"  {name:<17} {entry['verified']} ({ops} op types, target "
                f"{entry.get('deployment_target', '?')}, {length})")
    verdict = "passed" if entry.get("passed") else "FAILED"
    snr = entry.get("snr_db")
    snr_text = "exact" if snr is None and entry.get("max_abs") == 0 else (
        f"{_number(snr, '.1f')} dB")
    unit = "" if entry.get("length_unit", "frames") == "frames" else f" {entry['length_unit']}"
    line = (f"  {name:<17} vs {entry.get('reference', '?')} on {entry.get('runtime', '?')}: "
            f"max-abs {_number(entry.get('max_abs'), '.3g')}, SNR {snr_text}, lengths "
            f"{','.join(map(str, entry.get('lengths', [])))}{unit} -> {verdict}")
    batch = entry.get("batch")
    if batch:
        line += (f"\n  {'':<17} (padded batch of {','.join(map(str, batch['rows']))} "
                 f"{entry.get('length_unit', 'tokens')}: "
                 f"max-abs {_number(batch.get('max_abs'), '.3g')})")
    spectrum = entry.get("spectrum")
    if spectrum:
        line += (f"\n  {'':<17} (audio through the head ISTFT; spectra max-abs "
                 f"{_number(spectrum['max_abs'], '.3g')})")
    return line


def _head_line(head: dict) -> str:
    head_text = head.get("type", "?") if head.get("type") != "istft" else (
        f"istft n_fft {head['n_fft']}, hop {head['hop_length']}, win {head['win_length']}, "
        f"{head.get('window')}, padding {head.get('padding')}, output {head.get('output')}")
    return f"head:        {head_text}"


def _acoustic_lines(manifest: dict) -> list:
    if manifest.get("kind") != "acoustic":
        return []
    phones = manifest.get("phones")
    lines = []
    if phones is not None:
        known = (f"table from {phones['source']}" if phones.get("symbols")
                 else "no table in the package")
        lines.append(f"phones:      {phones.get('count')} ids ({phones.get('extractor')}; "
                     f"{known})")
    content = manifest.get("content")
    if content:
        features = ", ".join(f"{f['input']} ({f['dim']})" for f in content.get("features", []))
        lines.append(f"content:     {features}, merged by {content.get('merge_mode')}, at "
                     f"{content.get('frame_rate_hz'):g} frames/s")
    f0 = manifest.get("f0")
    if f0:
        lines.append(f"f0:          " + (f"input {f0['input']} in Hz (0 = unvoiced), "
                                         f"{f0.get('f0_min'):g}-{f0.get('f0_max'):g} Hz"
                                         if f0.get("input") else "not used"))
    energy = manifest.get("energy")
    if energy:
        lines.append(f"energy:      " + (f"input {energy['input']} ({energy.get('extract_mode')})"
                                         if energy.get("input") else "not used"))
    speakers = manifest.get("speakers") or {}
    names = speakers.get("names")
    lines += [f"speakers:    {speakers.get('count')}"
             + (f" ({', '.join(sorted(names)[:6])}{' ...' if len(names) > 6 else ''})"
                if names else "")]
    if manifest.get("produces") == "mel":
        lines.append(f"vocoder:     must match {', '.join(manifest.get('vocoder_must_match', []))}")
    return lines


def describe(manifest: dict, path: Path) -> str:
    kind = manifest.get("kind", manifest.get("task", "?"))
    lines = [f"package:     {path}",
             f"family:      {manifest['family']} ({kind})",
             f"audio:       {manifest['sample_rate']} Hz, hop {manifest['hop_length']}"
             + (f", {manifest['n_mels']} mels" if manifest.get("n_mels") else
                ", waveform out (no mel)")]
    mel = manifest.get("mel", {})
    if mel:
        norm = mel.get("norm")
        lines.append(f"mel:         n_fft {mel.get('n_fft')}, win {mel.get('win_length')}, "
                     f"fmin {mel.get('fmin')}, fmax {mel.get('fmax') or 'sr/2'}, "
                     f"log {mel.get('log')}, clamp {mel.get('clamp_min')}"
                     + (", centred frames" if mel.get("center") else "")
                     + (f", norm mean {norm['mean']} std {norm['std']}" if norm else ""))
    lines += [f"inputs:      {'; '.join(_dims(e) for e in manifest.get('inputs', []))}",
              f"outputs:     {'; '.join(_dims(e) for e in manifest.get('outputs', []))}"]
    lines += _acoustic_lines(manifest)
    head = manifest.get("head")
    if head is not None:
        lines.append(_head_line(head))
    context = manifest.get("receptive_field")
    if context:
        def frames(count):
            return "unbounded" if count is None else f"{count} frames"

        lines.append(f"context:     {frames(context.get('history_frames'))} of history, "
                     f"{frames(context.get('lookahead_frames'))} of look-ahead; chunk "
                     f"{context.get('recommended_chunk_frames')} frames for fixed shapes")
    formats = manifest.get("formats", {})
    if formats:
        present = []
        for key, name in formats.items():
            missing = path.is_dir() and not (path / name).exists()
            present.append(f"{key}={name}" + (" (MISSING)" if missing else ""))
        lines.append(f"formats:     {', '.join(present)}")
    source = manifest.get("source", {})
    random_init = f"(random init, seed {source.get('random_init_seed')})"
    lines.append(f"checkpoint:  {source.get('checkpoint') or random_init}")
    if source.get("sha256"):
        lines.append(f"sha256:      {source['sha256']}")
    if source.get("config"):
        lines.append(f"config:      {source['config']}")
    exporter = manifest.get("exporter", {})
    lines.append(f"exporter:    {exporter.get('name')} {exporter.get('version')}, torch "
                 f"{exporter.get('torch')}, opset {exporter.get('opset')}")
    parity = manifest.get("parity", {})
    if parity:
        lines.append("parity:")
        lines += [_parity_line(name, entry) for name, entry in parity.items()]
    return "\n".join(lines) + "\n"
