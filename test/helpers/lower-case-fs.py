"""A case-insensitive file system for tests: a FUSE passthrough onto BACKING that stores every name in lower
case, so `SECRETS/key.txt` opens `secrets/key.txt` (as vfat, exFAT, CIFS, ext4 casefold and macOS do; this
kernel has none of them). Prints "ready" once mounted; runs until unmounted.
Usage: lower-case-fs.py BACKING MNT [GATE]

With GATE (a path outside the mount), a write of 32 KiB or more waits while GATE exists, as on a disk that
stopped taking data (small writes, a transfer's header and log, go through); the file system then serves
each call on a thread of its own, so the other calls are not held behind the waiting writes, and takes
writes of up to 128 KiB whole.
"""
import errno
import os
import sys
import time

from fusepy import FUSE, FuseOSError, Operations


GATED_WRITE_BYTES = 32 * 1024


class LowerCase(Operations):
    def __init__(self, backing, gate=None):
        self.backing = backing
        self.gate = gate

    def _path(self, path):
        return os.path.join(self.backing, path.lstrip('/').lower())

    def init(self, path):
        print('ready', flush=True)

    def access(self, path, mode):
        if not os.access(self._path(path), mode):
            raise FuseOSError(errno.EACCES)

    def chmod(self, path, mode):
        os.chmod(self._path(path), mode)

    def chown(self, path, uid, gid):
        os.lchown(self._path(path), uid, gid)

    def getattr(self, path, fh=None):
        st = os.lstat(self._path(path))
        keys = ('st_atime', 'st_ctime', 'st_gid', 'st_mode', 'st_mtime', 'st_nlink', 'st_size', 'st_uid')
        attrs = {key: getattr(st, key) for key in keys}
        for key in ('st_atime', 'st_ctime', 'st_mtime'):
            attrs[key] = getattr(st, key + '_ns') / 1e9
        return attrs

    def readdir(self, path, fh):
        return ['.', '..'] + os.listdir(self._path(path))

    def readlink(self, path):
        return os.readlink(self._path(path))

    def mknod(self, path, mode, dev):
        return os.mknod(self._path(path), mode, dev)

    def rmdir(self, path):
        return os.rmdir(self._path(path))

    def mkdir(self, path, mode):
        return os.mkdir(self._path(path), mode)

    def statfs(self, path):
        st = os.statvfs(self._path(path))
        keys = ('f_bavail', 'f_bfree', 'f_blocks', 'f_bsize', 'f_favail', 'f_ffree', 'f_files', 'f_flag',
                'f_frsize', 'f_namemax')
        return {key: getattr(st, key) for key in keys}

    def unlink(self, path):
        return os.unlink(self._path(path))

    def symlink(self, name, target):
        return os.symlink(target, self._path(name))

    def rename(self, old, new):
        return os.rename(self._path(old), self._path(new))

    def link(self, target, name):
        return os.link(self._path(name), self._path(target))

    def utimens(self, path, times=None):
        return os.utime(self._path(path), times, follow_symlinks=False)

    def open(self, path, flags):
        return os.open(self._path(path), flags & ~os.O_DIRECT)

    def create(self, path, mode, fi=None):
        return os.open(self._path(path), os.O_WRONLY | os.O_CREAT, mode)

    def read(self, path, length, offset, fh):
        return os.pread(fh, length, offset)

    def write(self, path, buf, offset, fh):
        while self.gate is not None and len(buf) >= GATED_WRITE_BYTES and os.path.exists(self.gate):
            time.sleep(0.005)
        return os.pwrite(fh, buf, offset)

    def truncate(self, path, length, fh=None):
        with open(self._path(path), 'r+') as f:
            f.truncate(length)

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        return os.close(fh)

    def fsync(self, path, fdatasync, fh):
        return os.fsync(fh)

    def fallocate(self, path, mode, offset, length, fh):
        raise FuseOSError(errno.EOPNOTSUPP)


if __name__ == '__main__':
    gate = sys.argv[3] if len(sys.argv) > 3 else None
    if gate is None:
        FUSE(LowerCase(sys.argv[1]), sys.argv[2], foreground=True, nothreads=True)
    else:
        # Writes as large as the caller's (up to 128 KiB), not split in pages, so the gate sees their size.
        FUSE(LowerCase(sys.argv[1], gate), sys.argv[2], foreground=True, big_writes=True, max_write=131072)
