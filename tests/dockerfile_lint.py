"""House rules for Dockerfiles, on top of the dockerfile-parse parser: pinned base images and
packages, a non-root user, nothing fetched outside a pinned package manager."""

from __future__ import annotations

import io
import re
import shlex

from dockerfile_parse import DockerfileParser

ROOT_USERS = {"root", "0", "0:0", "root:root"}


def _pip_problems(line: int, command: str) -> list[str]:
    problems = []
    tokens = shlex.split(command.replace("\\\n", " "))
    commands: list[list[str]] = [[]]
    for token in tokens:
        if token in ("&&", ";", "||"):
            commands.append([])
        else:
            commands[-1].append(token)
    for words in commands:
        if words[:2] != ["pip", "install"]:
            continue
        args = [w for w in words[2:] if not w.startswith("-")]
        locked = "-r" in words and all(a.endswith(".lock") for a in args)
        local = "--no-deps" in words and args in (["."], [])
        pinned = all("==" in a for a in args)
        if not (locked or local or pinned):
            problems.append(f"line {line}: pip install of unpinned packages: {' '.join(args)}")
    return problems


def _apt_problems(line: int, command: str) -> list[str]:
    match = re.search(r"apt-get install ([^&;]*)", command.replace("\\\n", " "))
    if not match:
        return []
    packages = [w for w in match.group(1).split() if not w.startswith("-")]
    unpinned = [p for p in packages if "=" not in p]
    return [f"line {line}: apt package {p} is not pinned (name=version)" for p in unpinned]


def lint(text: str) -> list[str]:
    """Problems of a Dockerfile, one line each with its line number; [] when it is clean."""
    # A file object: the parser never writes (given a path, setting content writes the file).
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode("utf-8")))
    problems: list[str] = []
    stages: set[str] = set()
    user = None
    for item in parser.structure:
        instruction, value, line = item["instruction"], item["value"], item["startline"] + 1
        if instruction == "FROM":
            image, *alias = value.split()
            if alias and alias[0].upper() == "AS":
                stages.add(alias[1])
            if image in stages:
                continue
            tag = image.split(":", 1)[1] if ":" in image.split("/")[-1] else ""
            if not tag or tag == "latest" or not re.search(r"\d", tag):
                problems.append(f"line {line}: base image {image} is not pinned to a version")
            user = None  # each stage starts as root
        elif instruction == "USER":
            user = value.strip()
        elif instruction == "ADD":
            problems.append(f"line {line}: ADD fetches or unpacks implicitly; use COPY")
        elif instruction == "RUN":
            if re.search(r"\b(curl|wget)\b", value):
                problems.append(f"line {line}: downloads with curl/wget are not pinned")
            problems += _pip_problems(line, value) + _apt_problems(line, value)
        elif instruction in ("ENTRYPOINT", "CMD") and not value.strip().startswith("["):
            problems.append(f"line {line}: {instruction} in shell form; use the exec form")
    if user is None or user in ROOT_USERS:
        problems.append(f"the image runs as root (last USER: {user or 'none'})")
    return problems
