"""Files outside Delta (reports, feeds) on a local disk or object storage, via pyarrow."""

from __future__ import annotations

from jobs.orchestration.plan import filesystem


def write_atomically(path: str, data: bytes) -> None:
    """Writes `<path>.tmp`, then renames it to `path`: a reader sees the whole file or none."""
    fs, target = filesystem(path)
    folder = target.rsplit("/", 1)[0]
    fs.create_dir(folder, recursive=True)
    temporary = f"{target}.tmp"
    with fs.open_output_stream(temporary) as stream:
        stream.write(data)
    fs.move(temporary, target)


def read_bytes(path: str) -> bytes:
    """The whole content of a file."""
    fs, target = filesystem(path)
    with fs.open_input_stream(target) as stream:
        return bytes(stream.read())
