"""The local backend's Hadoop file system (jobs/local_fs.py, jobs/jvm): built by `make setup`,
used by the session, and the same modes, renames and link statuses as Hadoop's own."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from jobs import local_fs
from jobs.settings import Settings


@pytest.fixture(scope="module")
def hadoop(spark: Any) -> tuple[Any, Any, Any]:
    """(the JVM, the session's Hadoop conf, the file: FileSystem of the session)."""
    jvm = spark._jvm
    conf = spark._jsc.hadoopConfiguration()
    fs = jvm.org.apache.hadoop.fs.FileSystem.getLocal(conf)
    return jvm, conf, fs


def test_the_tests_session_writes_the_lake_through_the_forkless_classes(
    hadoop: tuple[Any, Any, Any], local_settings: Settings
) -> None:
    jvm, conf, fs = hadoop
    assert local_settings.spark.local_fs_jar and Path(local_settings.spark.local_fs_jar).is_file()
    assert fs.getClass().getName() == local_fs.FILE_SYSTEM
    context = jvm.org.apache.hadoop.fs.FileContext.getLocalFSFileContext(conf)
    assert context.getDefaultFileSystem().getClass().getName() == local_fs.ABSTRACT_FILE_SYSTEM


def test_files_and_folders_get_the_mode_asked_for(
    hadoop: tuple[Any, Any, Any], tmp_path: Path
) -> None:
    jvm, _, fs = hadoop
    permission = jvm.org.apache.hadoop.fs.permission.FsPermission
    folder, file = tmp_path / "a" / "b", tmp_path / "a" / "b" / "part-0.parquet"
    assert fs.mkdirs(jvm.org.apache.hadoop.fs.Path(str(folder)), permission(0o750))
    stream = fs.create(jvm.org.apache.hadoop.fs.Path(str(file)))
    stream.write(b"rows")
    stream.close()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o750
    # Hadoop's default for a new file, 0666 less the umask 022: set without a chmod process
    assert stat.S_IMODE(file.stat().st_mode) == 0o644
    assert file.read_bytes() == b"rows"
    fs.setPermission(jvm.org.apache.hadoop.fs.Path(str(file)), permission(0o640))
    assert stat.S_IMODE(file.stat().st_mode) == 0o640
    # the checksum file beside the data, as Hadoop's LocalFileSystem writes it
    assert (folder / ".part-0.parquet.crc").is_file()


def test_a_commit_rename_never_replaces_an_existing_file(
    hadoop: tuple[Any, Any, Any], spark: Any, tmp_path: Path
) -> None:
    jvm, conf, _ = hadoop
    context = jvm.org.apache.hadoop.fs.FileContext.getLocalFSFileContext(conf)
    rename = jvm.org.apache.hadoop.fs.Options.Rename
    options = spark.sparkContext._gateway.new_array(rename, 1)
    options[0] = rename.NONE  # as Delta's log store renames a commit into place
    source, target = tmp_path / ".00001.json.tmp", tmp_path / "00001.json"
    paths = jvm.org.apache.hadoop.fs.Path(str(source)), jvm.org.apache.hadoop.fs.Path(str(target))
    source.write_text("commit 1")
    context.rename(*paths, options)
    assert target.read_text() == "commit 1" and not source.exists()
    source.write_text("another writer's commit 1")
    with pytest.raises(Exception, match="FileAlreadyExistsException"):
        context.rename(*paths, options)
    assert target.read_text() == "commit 1"


def test_a_symbolic_link_is_still_reported_as_one(
    hadoop: tuple[Any, Any, Any], tmp_path: Path
) -> None:
    jvm, _, fs = hadoop
    raw = fs.getRawFileSystem()
    target, link = tmp_path / "target.csv", tmp_path / "link.csv"
    target.write_text("a,b\n")
    os.symlink(target, link)
    link_status = raw.getFileLinkStatus(jvm.org.apache.hadoop.fs.Path(str(link)))
    file_status = raw.getFileLinkStatus(jvm.org.apache.hadoop.fs.Path(str(target)))
    assert link_status.isSymlink() and link_status.getSymlink().toUri().getPath() == str(target)
    assert not file_status.isSymlink() and file_status.getLen() == 4
    with pytest.raises(Exception, match="FileNotFoundException"):
        raw.getFileLinkStatus(jvm.org.apache.hadoop.fs.Path(str(tmp_path / "missing")))


def test_the_jar_is_built_once_and_again_when_a_source_changes(tmp_path: Path, spark: Any) -> None:
    import pyspark

    spark_jars = Path(pyspark.__file__).parent / "jars"
    jar = tmp_path / "local-fs.jar"
    assert local_fs.build(jar, spark_jars).endswith("built")
    assert local_fs.build(jar, spark_jars).endswith("up to date")
    source = local_fs.java_sources()[0]
    os.utime(jar, (source.stat().st_mtime - 10, source.stat().st_mtime - 10))
    assert not local_fs.is_current(jar, spark_jars)
