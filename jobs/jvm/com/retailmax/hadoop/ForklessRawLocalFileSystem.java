package com.retailmax.hadoop;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Set;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.io.nativeio.NativeIO;

/**
 * Hadoop's local file system without a child process per file.
 *
 * <p>Without Hadoop's native library (pyspark ships none), RawLocalFileSystem sets the mode of
 * every file and folder it creates by running {@code chmod}, and reads a path's link status by
 * running {@code readlink}: a retail_daily day forked about 1,250 of them from the driver. Here
 * the same mode is set, and the same link status read, through java.nio, in the process. With
 * the native library loaded, Hadoop's own native calls are used, as before.
 */
public class ForklessRawLocalFileSystem extends RawLocalFileSystem {
  /** Bit i of a POSIX mode (i = 0 is others' execute) as java.nio names it. */
  private static final PosixFilePermission[] MODE_BITS = {
    PosixFilePermission.OTHERS_EXECUTE,
    PosixFilePermission.OTHERS_WRITE,
    PosixFilePermission.OTHERS_READ,
    PosixFilePermission.GROUP_EXECUTE,
    PosixFilePermission.GROUP_WRITE,
    PosixFilePermission.GROUP_READ,
    PosixFilePermission.OWNER_EXECUTE,
    PosixFilePermission.OWNER_WRITE,
    PosixFilePermission.OWNER_READ,
  };

  @Override
  public void setPermission(Path path, FsPermission permission) throws IOException {
    if (NativeIO.isAvailable()) {
      super.setPermission(path, permission);
      return;
    }
    Set<PosixFilePermission> mode = EnumSet.noneOf(PosixFilePermission.class);
    short bits = permission.toShort();
    for (int bit = 0; bit < MODE_BITS.length; bit++) {
      if ((bits & (1 << bit)) != 0) {
        mode.add(MODE_BITS[bit]);
      }
    }
    Files.setPosixFilePermissions(pathToFile(path).toPath(), mode);
  }

  /** A path that is not a symbolic link has the status of the path itself (no readlink). */
  @Override
  public FileStatus getFileLinkStatus(Path path) throws IOException {
    if (!Files.isSymbolicLink(pathToFile(path).toPath())) {
      return getFileStatus(path);
    }
    return super.getFileLinkStatus(path);
  }
}
